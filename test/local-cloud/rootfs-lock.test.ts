import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withPidLock } from '../../src/local-cloud/rootfs-lock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bake-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the lock around making the base root filesystem', () => {
  it('lets one maker work at a time; the other waits and then runs', async () => {
    const lock = path.join(dir, 'base.lock');
    const order: string[] = [];
    let release!: () => void;
    const first = withPidLock(lock, async () => {
      order.push('first in');
      await new Promise<void>((resolve) => (release = resolve));
      order.push('first out');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = withPidLock(lock, async () => void order.push('second'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(order).toEqual(['first in']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second']);
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock whose process is gone (a maker killed mid-debootstrap)', async () => {
    const lock = path.join(dir, 'base.lock');
    const dead = Number(execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim());
    writeFileSync(lock, `${dead}\n`);
    expect(await withPidLock(lock, async () => 'made', { timeoutMs: 5_000 })).toBe('made');
  });
});
