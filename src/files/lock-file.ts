/**
 * A lock between processes (two Jenkins jobs pinning into one tfvars file at once): the lock
 * is a file `<file>.bake-lock` created with O_EXCL, so exactly one process creates it. The
 * others retry with backoff. The lock names its holder (host, pid and start time): a holder on
 * this host whose process is gone is taken over at once; a lock older than `staleMs` (a holder
 * on another host that was killed) is taken over too. A lock without a holder (its creator was
 * killed between creating the file and writing its name, which SIGKILL and SIGTERM both hit in
 * practice) is taken over once it is `emptyStaleMs` old: its holder cannot be asked, and a live
 * holder writes its name within microseconds. SIGINT and SIGTERM release it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { link, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { BakeError } from '../errors/index.js';
import { isRunning, ownIdentity } from './process-identity.js';

export interface LockOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** A lock file older than this is stale (default 5 min; a pin takes well under a second). */
  staleMs?: number;
  /** A lock file that names no holder and is older than this is stale (default 3 s). */
  emptyStaleMs?: number;
}

const EMPTY_STALE_MS = 3_000;

export class LockTimeoutError extends BakeError {}

export function lockFileOf(file: string): string {
  return `${file}.bake-lock`;
}

export async function withFileLock<T>(file: string, action: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const release = await acquire(lockFileOf(file), options.timeoutMs ?? 30_000, {
    staleMs: options.staleMs ?? 5 * 60_000,
    emptyStaleMs: options.emptyStaleMs ?? EMPTY_STALE_MS,
  });
  try {
    return await action();
  } finally {
    await release();
  }
}

interface Staleness {
  staleMs: number;
  emptyStaleMs: number;
}

async function acquire(lock: string, timeoutMs: number, staleness: Staleness): Promise<() => Promise<void>> {
  const token = `${hostname()} ${ownIdentity()} ${randomBytes(6).toString('hex')} ${new Date().toISOString()}\n`;
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    try {
      await writeFile(lock, token, { flag: 'wx' });
      holding(lock, token);
      return async () => {
        released(lock);
        // Only remove the lock if it is still ours (a stale takeover may have replaced it).
        const current = await readFile(lock, 'utf8').catch(() => undefined);
        if (current === token) await unlink(lock).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    await removeIfStale(lock, staleness);
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

/** The holder named in the lock runs on this host and its process is gone (or its pid is someone else's now). */
function holderIsGone(token: string): boolean {
  const [host, identity] = token.trim().split(' ');
  return host === hostname() && identity !== undefined && !isRunning(identity);
}

/** Whether a lock of this age and content may be taken over. */
function isStale(ageMs: number, token: string, staleness: Staleness): boolean {
  if (ageMs >= staleness.staleMs || holderIsGone(token)) return true;
  const namesHolder = token.trim().split(' ').length >= 2;
  return !namesHolder && ageMs >= staleness.emptyStaleMs;
}

async function removeIfStale(lock: string, staleness: Staleness): Promise<void> {
  const info = await stat(lock).catch(() => undefined);
  if (!info) return;
  const token = await readFile(lock, 'utf8').catch(() => '');
  if (!isStale(Date.now() - info.mtimeMs, token, staleness)) return;
  // Rename first: of several processes seeing the same stale lock, only one moves it away.
  const aside = `${lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lock, aside);
  } catch {
    return;
  }
  const moved = await stat(aside).catch(() => undefined);
  const movedToken = await readFile(aside, 'utf8').catch(() => '');
  if (moved && !isStale(Date.now() - moved.mtimeMs, movedToken, staleness)) {
    // Another process replaced the stale lock just before the rename: give its lock back.
    await link(aside, lock).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

/**
 * Locks this process holds, so an interrupt does not leave them behind for 5 minutes. While one
 * is held and nobody else handles SIGINT/SIGTERM (bake pin), the handler removes them and then
 * dies of the same signal; where a command handles the signal itself (bake build), its own
 * shutdown releases them, and 'exit' catches process.exit().
 */
const heldLocks = new Map<string, string>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const installed = new Set<NodeJS.Signals>();

function releaseHeldLocksNow(): void {
  for (const [lock, token] of heldLocks) {
    try {
      if (readFileSync(lock, 'utf8') === token) unlinkSync(lock);
    } catch {
      // gone already
    }
  }
  heldLocks.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  releaseHeldLocksNow();
  uninstall();
  process.kill(process.pid, signal);
}

function uninstall(): void {
  for (const signal of installed) process.off(signal, onSignal);
  installed.clear();
  process.off('exit', releaseHeldLocksNow);
}

function holding(lock: string, token: string): void {
  if (heldLocks.size === 0) {
    process.on('exit', releaseHeldLocksNow);
    for (const signal of SIGNALS) {
      if (process.listenerCount(signal) > 0) continue;
      process.on(signal, onSignal);
      installed.add(signal);
    }
  }
  heldLocks.set(lock, token);
}

function released(lock: string): void {
  heldLocks.delete(lock);
  if (heldLocks.size === 0) uninstall();
}
