/**
 * The local cloud's one access key, made per state directory on first start and kept in
 * `<stateDir>/credentials.json` (0600, the folder 0700): only the user who runs the cloud (and
 * root) can sign requests to it. Without this any local user could call RunInstances and log in
 * to an instance as root.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CloudError } from '../errors/index.js';
import { writePrivateFile } from '../files/write-private-file.js';
import type { LocalCredentials } from './ec2-api/signature.js';

export type { LocalCredentials } from './ec2-api/signature.js';

const CredentialsFile = z
  .object({ accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/), secretAccessKey: z.string().min(32) })
  .strict();

export function credentialsFileOf(stateDir: string): string {
  return path.join(stateDir, 'credentials.json');
}

export async function loadOrCreateCredentials(stateDir: string): Promise<LocalCredentials> {
  const file = credentialsFileOf(stateDir);
  const info = await stat(file).catch(() => undefined);
  if (!info) {
    const credentials = generateCredentials();
    await writePrivateFile(file, `${JSON.stringify(credentials)}\n`);
    return credentials;
  }
  // Anyone else who can read the key can do what the cloud's owner can: refuse rather than serve.
  if ((info.mode & 0o077) !== 0 || (process.getuid && info.uid !== process.getuid())) {
    throw new CloudError(
      `${file}: local cloud credentials must be 0600 and owned by this user; delete the file to make new ones`,
    );
  }
  const parsed = CredentialsFile.safeParse(parseJson(await readFile(file, 'utf8')));
  if (!parsed.success) throw new CloudError(`${file}: not local cloud credentials; delete the file to make new ones`);
  return parsed.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function generateCredentials(): LocalCredentials {
  // The shape of an AWS access key (AKIA + 16 of A-Z2-7) so tools that check it are content.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = [...randomBytes(16)].map((b) => alphabet[b % 32]).join('');
  return { accessKeyId: `AKIA${id}`, secretAccessKey: randomBytes(30).toString('base64') };
}
