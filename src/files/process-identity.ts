/**
 * Which process holds a lock, precisely enough to tell it from a later process that got the
 * same pid (after a crash and a reboot, or simply pid wrap-around): the pid plus the kernel's
 * start time of that process (`/proc/PID/stat`, field 22, clock ticks since boot).
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** `PID` or `PID:START`; what lock files record. */
export type ProcessIdentity = string;

export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function ownIdentity(): ProcessIdentity {
  const start = processStartTime(process.pid);
  return start ? `${process.pid}:${start}` : String(process.pid);
}

export function pidOf(identity: ProcessIdentity): number | undefined {
  const pid = Number(identity.split(':')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The process this identity names is still running (not merely some process with its pid). */
export function isRunning(identity: ProcessIdentity): boolean {
  const pid = pidOf(identity);
  if (pid === undefined) return false;
  const recorded = identity.split(':')[1];
  const start = processStartTime(pid);
  if (recorded !== undefined && start !== undefined) return start === recorded;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A lock from before start times were recorded: bake runs on node, so a pid running anything else is not its holder.
  return recorded !== undefined || runsNode(pid);
}

function runsNode(pid: number): boolean {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return /^node/.test(argv0.split('/').pop() ?? '');
  } catch {
    return true;
  }
}

/**
 * Where a process runs, precisely enough to know whether its pid can be looked up from here: the
 * kernel's boot id (a reboot, another machine) and the pid namespace (another container on the
 * same kernel sees other pids). A host name is not enough: agents in containers often share one.
 */
export function hostOfProcesses(): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
    return boot && namespace ? `${boot}/${namespace}` : undefined;
  } catch {
    return undefined;
  }
}

/** This process, as a lock records it: `<boot id>/<pid namespace>/<pid>:<start time>` (undefined without /proc). */
export function hostProcessIdentity(): string | undefined {
  const host = hostOfProcesses();
  const start = processStartTime(process.pid);
  return host && start ? `${host}/${process.pid}:${start}` : undefined;
}

/**
 * The process a lock names ran where this one runs, and is gone: its holder died (`kill -9`, an
 * OOM kill) and the lock can be taken over at once. A process elsewhere is never judged here.
 */
export function isGoneFromThisHost(identity: string): boolean {
  const match = /^(.+)\/(\d+:\d+)$/.exec(identity);
  const host = hostOfProcesses();
  return Boolean(match && host && match[1] === host && !isRunning(match[2]));
}
