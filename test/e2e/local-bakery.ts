/**
 * What the end-to-end tests of `bake … --local` share: the built CLI and the environment it runs
 * with, a bakery in a temp git repository, and the bakery's local cloud opened after a bake to
 * read back through the EC2 API what the bake left there.
 */
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';

export const repo = path.resolve(import.meta.dirname, '../..');
export const bake = path.join(repo, 'bin/bake.js');
/** The example bakery at the top of the repository: these entries of it. */
export const EXAMPLE_BAKERY = ['recipes', 'roles', 'cloud-init', 'infra', 'bake.config.yaml'];
/** Shared between runs: a fresh debootstrap root filesystem costs minutes. */
export const ROOTFS_CACHE = process.env.BAKE_ROOTFS_CACHE ?? path.join(repo, '.bake/test-cache');

/** bake's environment as in a Jenkins job (CI: timestamped lines, no TTY), with the shared root filesystem cache. */
export function bakeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, CI: 'true', BAKE_ROOTFS_CACHE: ROOTFS_CACHE, ...extra };
}

/** git in a bakery, with the committer identity a CI agent has. */
export function git(dir: string, ...args: string[]) {
  return execa('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: dir });
}

export interface BakeryContent {
  /** A folder to copy in: all of it, or only `entries` of it. */
  copy?: string;
  entries?: string[];
  /** Files to write, by path in the bakery. */
  files?: Record<string, string>;
  /** Commit everything in a new git repository (default true), as a Jenkins checkout is. */
  git?: boolean;
}

/** A new bakery in a temp dir named `prefix…`, holding `content`. */
export async function temporaryBakery(prefix: string, content: BakeryContent): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  if (content.copy)
    for (const entry of content.entries ?? ['.'])
      await cp(path.join(content.copy, entry), path.join(dir, entry), { recursive: true });
  for (const [file, text] of Object.entries(content.files ?? {})) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  if (content.git ?? true) {
    await git(dir, 'init', '-q');
    await git(dir, 'add', '-A');
    await git(dir, 'commit', '-qm', 'bakery');
  }
  return dir;
}

/**
 * Opens the local cloud kept at `stateDir` (a bakery's .bake/local) between bakes, to put in or
 * read back what a test needs through the API, with an EC2 client for us-east-1; closes both
 * after. Its host launches nothing: these tests only read and write the cloud's records.
 */
export async function withLocalCloud<T>(
  stateDir: string,
  use: (ec2: EC2Client, cloud: LocalCloud) => Promise<T>,
): Promise<T> {
  const cloud = await startLocalCloud({ stateDir, host: noInstances });
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: cloud.credentials });
  try {
    return await use(ec2, cloud);
  } finally {
    ec2.destroy();
    await cloud.close();
  }
}
