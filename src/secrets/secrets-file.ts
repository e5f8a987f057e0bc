/**
 * How secret values reach ansible-playbook: an extra-vars file (`--extra-vars @FILE`) in a
 * private directory on a memory filesystem (/dev/shm), readable by root only, removed as soon as
 * the run ends. Only its path appears on a command line (Packer's Ansible provisioner prints its
 * command line); nothing is written in the bakery, and nothing is sent to the instance but what
 * the roles themselves do with the values.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Document } from 'yaml';
import { unsafeVars } from '../escape/ansible-unsafe.js';
import { ansibleYamlText } from '../packer/ansible-yaml.js';
import type { SecretValues } from './resolve.js';

const PREFIX = 'bake-secrets-';

/** Memory-backed first: a tmpfs never puts the value on a disk. */
function privateBase(env: NodeJS.ProcessEnv): string {
  const candidates = ['/dev/shm', env.XDG_RUNTIME_DIR, tmpdir()].filter((dir): dir is string => Boolean(dir));
  return candidates.find((dir) => existsSync(dir))!;
}

/** The extra-vars text: a `{{` inside a secret is never evaluated as a template. */
export function secretsVarsText(values: SecretValues): string {
  const doc = new Document();
  doc.contents = unsafeVars(doc, values, { what: 'secret', doubleQuoted: true });
  return ansibleYamlText(doc);
}

/** Runs `action` with the path of a 0600 extra-vars file holding the values; the file is gone when it returns. */
export async function withSecretsFile<T>(
  values: SecretValues,
  action: (file: string) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const base = privateBase(env);
  await sweepAbandoned(base);
  // mkdtemp makes the directory 0700.
  const dir = await mkdtemp(path.join(base, `${PREFIX}${process.pid}-`));
  try {
    const file = path.join(dir, 'vars.yml');
    await writeFile(file, secretsVarsText(values), { mode: 0o600, flag: 'wx' });
    return await action(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Directories left by a bake that was killed before it could remove its own. */
async function sweepAbandoned(base: string): Promise<void> {
  const entries = await readdir(base).catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = Number(new RegExp(`^${PREFIX}(\\d+)-`).exec(entry)?.[1]);
    if (!pid || alive(pid)) continue;
    await rm(path.join(base, entry), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
