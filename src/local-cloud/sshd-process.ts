/**
 * One instance's sshd as a child process: started in the foreground (`-D -e`) so bake owns it,
 * its pid recorded so that a later bake can clean up after one that was killed, stopped with
 * SIGTERM and, 5 s later, SIGKILL.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { CloudError } from '../errors/index.js';
import { isAlive } from './rootfs-lock.js';

export const SSHD = '/usr/sbin/sshd';
const STOP_GRACE_MS = 5_000;
const READY_TIMEOUT_MS = 15_000;

export interface SshdStart {
  configFile: string;
  pidFile: string;
  /** sshd's own log (-e: to stderr), appended to. */
  logFile: string;
  ip: string;
  port: number;
}

export class SshdProcess {
  private constructor(
    readonly pid: number,
    private readonly child: ResultPromise,
    private readonly pidFile: string,
  ) {}

  /**
   * Starts sshd and resolves once its port accepts TCP. Rejects with sshd's last log lines if
   * it exits first; `addressInUse` on the error says another process holds the address.
   */
  static async start(options: SshdStart): Promise<SshdProcess> {
    const logStart = await stat(options.logFile).then((s) => s.size, () => 0);
    const child = execa(SSHD, ['-D', '-e', '-f', options.configFile], {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: { file: options.logFile, append: true },
      reject: false,
    });
    const pid = child.pid;
    if (pid === undefined) {
      const result = await child;
      throw new CloudError(`could not start ${SSHD}: ${result.message}`);
    }
    await writeFile(options.pidFile, `${pid}\n`);
    let exited = false;
    void child.then(() => {
      exited = true;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    // Both: the log line proves it is this sshd that listens (not another process on the same
    // address), the connection that the port is open for clients.
    const listening = `Server listening on ${options.ip} port ${options.port}.`;
    const ready = async () =>
      (await readFile(options.logFile).catch(() => Buffer.alloc(0))).subarray(logStart).toString('utf8').includes(listening) &&
      (await accepts(options.ip, options.port));
    while (!(await ready())) {
      if (exited || Date.now() > deadline) {
        if (!exited) await stopPid(pid, child);
        await rm(options.pidFile, { force: true });
        const log = (await readFile(options.logFile, 'utf8').catch(() => '')).trim().split(/\r?\n/).slice(-3).join(' | ');
        throw new SshdStartError(`sshd for ${options.ip}:${options.port} ${exited ? 'exited' : 'did not listen'}: ${log}`, /Address already in use/.test(log));
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return new SshdProcess(pid, child, options.pidFile);
  }

  /** Stops the listener and every session it forked (sessions outlive a killed listener). */
  async stop(): Promise<void> {
    await stopPid(this.pid, this.child);
    await rm(this.pidFile, { force: true });
  }
}

export class SshdStartError extends CloudError {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

/**
 * Stops an sshd left running by a bake that was killed: only if the recorded pid is still an
 * sshd reading this config file (the pid may since have been reused by something else).
 */
export async function stopOrphan(pidFile: string, configFile: string): Promise<void> {
  const pid = Number.parseInt((await readFile(pidFile, 'utf8').catch(() => '')).trim(), 10);
  if (Number.isInteger(pid) && isAlive(pid)) {
    // A running sshd rewrites its argv into a title ("sshd: /usr/sbin/sshd -D -e -f FILE [listener] …").
    const title = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (/^(sshd:|\S*\/sshd )/.test(title) && title.includes(` -f ${configFile}`)) await stopPid(pid);
  }
  await rm(pidFile, { force: true });
}

async function stopPid(pid: number, child?: ResultPromise): Promise<void> {
  const tree = [pid, ...(await descendants(pid))];
  signal(tree, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (tree.some(isAliveNotZombie) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  signal(tree.filter(isAliveNotZombie), 'SIGKILL');
  if (child) await child;
}

function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  }
}

/** A child that exited stays a zombie until it is reaped; it no longer holds a port or a file. */
function isAliveNotZombie(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** Every process below `pid` in the parent tree (sshd's per-connection children and their shells). */
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

/** True once something accepts a TCP connection on ip:port. */
export function accepts(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}
