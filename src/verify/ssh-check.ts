/**
 * Runs one verify check in the instance: the verify script Packer runs, generated for that
 * check alone, fed to `sh -s` over SSH and run as root (as Packer's shell provisioner runs it).
 */
import { execa } from 'execa';
import { renderVerifyScript } from '../packer/verify-script.js';
import type { VerifyCheck } from '../recipes/model.js';
import type { ScriptRun } from './check-result.js';
import type { SshTarget } from './kept-instance.js';

/** A stuck check (a command waiting for input that never comes) must not hang the loop. */
const CHECK_TIMEOUT_MS = 5 * 60_000;

export function sshArguments(target: SshTarget): string[] {
  return [
    '-i',
    target.privateKey,
    '-p',
    String(target.sshPort),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'LogLevel=ERROR',
    `${target.user}@${target.ip}`,
  ];
}

/** The remote command that runs a script read from stdin as root (through `sudo -n` for another login). */
export function rootShell(target: SshTarget): string[] {
  return target.user === 'root' ? ['sh', '-s'] : ['sudo', '-n', 'sh', '-s'];
}

export async function runCheckOverSsh(target: SshTarget, check: VerifyCheck, signal?: AbortSignal): Promise<ScriptRun> {
  const started = Date.now();
  const result = await execa('ssh', [...sshArguments(target), ...rootShell(target)], {
    input: renderVerifyScript([check]),
    reject: false,
    stripFinalNewline: false,
    timeout: CHECK_TIMEOUT_MS,
    cancelSignal: signal,
  });
  // A check that timed out failed; no exit code at all otherwise means ssh never ran it.
  const exitCode = result.timedOut ? 1 : typeof result.exitCode === 'number' ? result.exitCode : 255;
  const stderr = result.timedOut
    ? `timed out after ${CHECK_TIMEOUT_MS / 1000} s\n${result.stderr}`
    : String(result.stderr);
  return { exitCode, stderr, durationMs: Date.now() - started };
}
