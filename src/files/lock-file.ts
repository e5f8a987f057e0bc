/**
 * A lock between processes (two Jenkins jobs pinning into one tfvars file at once): the lock
 * is a file `<file>.bake-lock` created with O_EXCL, so exactly one process creates it. The
 * others retry with backoff. A lock older than `staleMs` is left over from a killed process
 * and is taken over.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { BakeError } from '../errors/index.js';

export interface LockOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** A lock file older than this is stale (default 5 min; a pin takes well under a second). */
  staleMs?: number;
}

export class LockTimeoutError extends BakeError {}

export function lockFileOf(file: string): string {
  return `${file}.bake-lock`;
}

export async function withFileLock<T>(file: string, action: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const release = await acquire(lockFileOf(file), options.timeoutMs ?? 30_000, options.staleMs ?? 5 * 60_000);
  try {
    return await action();
  } finally {
    await release();
  }
}

async function acquire(lock: string, timeoutMs: number, staleMs: number): Promise<() => Promise<void>> {
  const token = `${hostname()} ${process.pid} ${randomBytes(6).toString('hex')} ${new Date().toISOString()}\n`;
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    try {
      await writeFile(lock, token, { flag: 'wx' });
      return async () => {
        // Only remove the lock if it is still ours (a stale takeover may have replaced it).
        const current = await readFile(lock, 'utf8').catch(() => undefined);
        if (current === token) await unlink(lock).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    await removeIfStale(lock, staleMs);
    if (Date.now() >= deadline) {
      const holder = (await readFile(lock, 'utf8').catch(() => '')).trim();
      throw new LockTimeoutError(
        `${lock}: another bake has held this lock for over ${Math.round(timeoutMs / 1000)} s${holder ? ` (${holder})` : ''}; remove the file if no bake is running`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 500);
  }
}

async function removeIfStale(lock: string, staleMs: number): Promise<void> {
  const info = await stat(lock).catch(() => undefined);
  if (!info || Date.now() - info.mtimeMs < staleMs) return;
  // Rename first: of several processes seeing the same stale lock, only one moves it away.
  const aside = `${lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lock, aside);
  } catch {
    return;
  }
  const moved = await stat(aside).catch(() => undefined);
  if (moved && Date.now() - moved.mtimeMs < staleMs) {
    // Another process replaced the stale lock just before the rename: give its lock back.
    await link(aside, lock).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}
