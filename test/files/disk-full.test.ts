/**
 * A full disk (a real, tiny tmpfs, filled up): bake says so in one line naming the file, exits 1,
 * and leaves no temporary file behind, neither in a rendered output folder nor in the local
 * cloud's state folder.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateKeyPairCommand, CreateTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud } from '../../src/local-cloud/index.js';
import { MemoryHost } from '../local-cloud/memory-host.js';

const bake = path.resolve('bin/bake.js');
let disk: string;

beforeAll(async () => {
  disk = await mkdtemp(path.join(tmpdir(), 'bake-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
  } catch (error) {
    throw new Error(`this test mounts a 256 KiB tmpfs to fill it up and needs root: ${(error as Error).message}`);
  }
});
afterAll(async () => {
  execFileSync('umount', [disk]);
  await rm(disk, { recursive: true, force: true });
});

/** Fills what is left of the tmpfs with one file. */
async function fill(name: string): Promise<void> {
  await writeFile(path.join(disk, name), Buffer.alloc(1024 * 1024)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOSPC') throw error;
  });
}

const tempFiles = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true })).filter((name) => String(name).endsWith('.tmp')).map(String);

describe('a full disk', () => {
  it('stops bake render with one line naming the file, exit 1, and no temporary file', async () => {
    const bakery = await mkdtemp(path.join(tmpdir(), 'bake-full-bakery-'));
    await cp(path.resolve('test/fixtures/pipeline/cli-bakery'), bakery, { recursive: true });
    const out = path.join(disk, 'out');
    await mkdir(path.join(out, 'base'), { recursive: true });
    await fill('filler-render');
    const run = await execa('node', [bake, 'render', '--dir', bakery, '--out', out], {
      reject: false,
      env: { CI: 'true' },
    });
    expect(run.exitCode).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^${out}/base/\\S+: no space left on device; free some space and run bake again$`),
    );
    expect(await tempFiles(out)).toEqual([]);
    await rm(path.join(disk, 'filler-render'));
    await rm(bakery, { recursive: true });
  });

  it('leaves no half-written state file beside the local cloud state it could not save', async () => {
    const stateDir = path.join(disk, 'cloud');
    const cloud = await startLocalCloud({ stateDir, host: new MemoryHost() });
    const ec2 = new EC2Client({
      region: 'us-east-1',
      endpoint: cloud.endpoint,
      credentials: cloud.credentials,
      maxAttempts: 1,
    });
    try {
      await ec2.send(
        new CreateTagsCommand({ Resources: [baseImageId('us-east-1')], Tags: [{ Key: 'fits', Value: 'yes' }] }),
      );
      await fill('filler-state');
      const failures = await ec2.send(new CreateKeyPairCommand({ KeyName: 'one-too-many', KeyType: 'ed25519' })).then(
        () => [],
        (error: Error) => [error.name],
      );
      expect(failures).toEqual(['InternalError']);
      expect(await tempFiles(stateDir)).toEqual([]);
    } finally {
      ec2.destroy();
      await cloud.close().catch(() => undefined);
      await rm(path.join(disk, 'filler-state'), { force: true });
    }
  });
});
