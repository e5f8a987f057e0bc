/**
 * Processes on the host, by pid: stopping a tree with a grace period, finding what runs below a
 * process, and whether a port answers. Shared by everything the local cloud starts.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { isAlive } from './rootfs-lock.js';

/** SIGTERM to the process (it may pass it on as a clean shutdown), SIGKILL to its tree after `graceMs`. */
export async function stopProcessTree(pid: number, graceMs: number, exited?: Promise<unknown>): Promise<void> {
  signal([pid], 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAliveNotZombie(pid) && Date.now() < deadline) await sleep(50);
  if (isAliveNotZombie(pid)) signal([pid, ...(await descendants(pid))].filter(isAliveNotZombie), 'SIGKILL');
  if (exited) await exited;
  else while (isAliveNotZombie(pid)) await sleep(50);
}

export function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  }
}

/** A child that exited stays a zombie until it is reaped; it no longer holds a port or a file. */
export function isAliveNotZombie(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** Every process below `pid` in the parent tree. */
export async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const children = parents.get(ppid) ?? [];
    children.push(Number(entry));
    parents.set(ppid, children);
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of parents.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** The process's command line, arguments joined by spaces ('' when it is gone). */
export async function commandLineOf(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
}

/**
 * True once something on ip:port accepts a TCP connection and its first bytes start with
 * `greeting` (when given) within `timeoutMs`.
 */
export function answers(ip: string, port: number, greeting?: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port });
    let received = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => {
      if (greeting === undefined) done(true);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.length >= (greeting?.length ?? 0)) done(received.startsWith(greeting ?? ''));
    });
    socket.once('error', () => done(false));
    socket.once('end', () => done(false));
    socket.setTimeout(timeoutMs, () => done(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
