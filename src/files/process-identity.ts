/**
 * Which process holds a lock, precisely enough to tell it from a later process that got the
 * same pid (after a crash and a reboot, or simply pid wrap-around): the pid plus the kernel's
 * start time of that process (`/proc/PID/stat`, field 22, clock ticks since boot).
 */
import { readFileSync } from 'node:fs';

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
