/**
 * What a launch test does on the booted machine, over SSH with the temporary key: wait for sshd,
 * wait for cloud-init, run one check. Scripts are fixed text fed to `sh -s` as root (through
 * `sudo -n` when the image's login user is not root); no recipe value is ever part of a command line.
 */
import { execa } from 'execa';
import { scaledDelayMs } from '../aws/simulated-waits.js';
import type { VerifyCheck } from '../recipes/model.js';
import type { ScriptRun } from '../verify/check-result.js';
import type { SshTarget } from '../verify/kept-instance.js';
import { rootShell, runCheckOverSsh, sshArguments } from '../verify/ssh-check.js';

export type { SshTarget };

/** bake verify's ssh options, with a shorter connect timeout while sshd is not up yet. */
function sshArgs(target: SshTarget, connectTimeoutSeconds = 10): string[] {
  return sshArguments(target).map((arg) =>
    arg.startsWith('ConnectTimeout=') ? `ConnectTimeout=${connectTimeoutSeconds}` : arg,
  );
}

export interface CloudInitOutcome {
  /** done: finished without error; error: cloud-init reported an error; absent: the image has no cloud-init. */
  status: 'done' | 'error' | 'absent';
  /** `cloud-init status --long`, and on error the log lines that say what went wrong. */
  output: string;
}

export interface SshWaitOptions {
  /** Real seconds per simulated second of the instance's cloud: the pause between attempts shrinks by it (default 1). */
  timeScale?: number;
}

export interface RemoteMachine {
  /** Resolves once sshd lets the key in; rejects when the signal fires first. */
  waitForSsh(target: SshTarget, signal: AbortSignal, options?: SshWaitOptions): Promise<void>;
  cloudInit(target: SshTarget, signal: AbortSignal): Promise<CloudInitOutcome>;
  runCheck(target: SshTarget, check: VerifyCheck, signal: AbortSignal): Promise<ScriptRun>;
  /** Feeds fixed `script` text to a root shell; its exit code (255: ssh itself failed) and both streams. */
  runScript(target: SshTarget, script: string, signal: AbortSignal): Promise<ScriptOutput>;
}

export interface ScriptOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const NO_CLOUD_INIT = 100;

/** Fixed text. cloud-init's exit status: 0 done, 1 error, 2 done with recoverable errors (23.4+). */
const CLOUD_INIT_SCRIPT = `
if ! command -v cloud-init >/dev/null 2>&1; then
  echo 'cloud-init is not installed in this image'
  exit ${NO_CLOUD_INIT}
fi
cloud-init status --wait >/dev/null 2>&1
# cloud-init 22.x reports done in the gap between its config and final stages (runcmd runs in
# final): the boot is over when systemd says so, and then the status is final.
if command -v systemctl >/dev/null 2>&1; then
  systemctl is-system-running --wait >/dev/null 2>&1
fi
cloud-init status --wait >/dev/null 2>&1
rc=$?
cloud-init status --long 2>&1
if [ "$rc" -eq 1 ]; then
  echo '--- /var/log/cloud-init.log (warnings and errors)'
  grep -E ' (WARNING|ERROR|CRITICAL)|Traceback|[Ff]ailed' /var/log/cloud-init.log 2>/dev/null | tail -n 40
  echo '--- /var/log/cloud-init-output.log (last lines)'
  tail -n 40 /var/log/cloud-init-output.log 2>/dev/null
fi
exit $rc
`;

/** Between SSH attempts while sshd is not up yet (simulated milliseconds in the local cloud's simulated time). */
export const SSH_RETRY_MS = 2_000;

/** Waits `ms`, or less once `signal` fires (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

export const sshRemoteMachine: RemoteMachine = {
  async waitForSsh(target, signal, options = {}) {
    let last = '';
    while (!signal.aborted) {
      const attempt = await execa('ssh', [...sshArgs(target, 5), 'true'], {
        reject: false,
        cancelSignal: signal,
        timeout: 30_000,
      });
      if (attempt.exitCode === 0) return;
      last = String(attempt.stderr).trim().split('\n').pop() ?? '';
      await sleep(scaledDelayMs(SSH_RETRY_MS, options.timeScale), signal);
    }
    throw Object.assign(
      new Error(`sshd on ${target.ip}:${target.sshPort} never let the test key in${last ? ` (${last})` : ''}`),
      { aborted: true },
    );
  },

  async cloudInit(target, signal) {
    const result = await execa('ssh', [...sshArgs(target), ...rootShell(target)], {
      input: CLOUD_INIT_SCRIPT,
      reject: false,
      cancelSignal: signal,
      all: true,
    });
    if (signal.aborted) throw Object.assign(new Error('stopped while waiting for cloud-init'), { aborted: true });
    const output = String(result.all ?? '').trim();
    if (result.exitCode === NO_CLOUD_INIT) return { status: 'absent', output };
    if (result.exitCode === 0 || result.exitCode === 2) return { status: 'done', output };
    if (result.exitCode === 255)
      throw new Error(`ssh failed while waiting for cloud-init: ${output.split('\n').pop() ?? ''}`);
    return { status: 'error', output };
  },

  // The same script, as root, as bake verify and Packer run it.
  runCheck: (target, check, signal) => runCheckOverSsh(target, check, signal),

  async runScript(target, script, signal) {
    const result = await execa('ssh', [...sshArgs(target), ...rootShell(target)], {
      input: script,
      reject: false,
      cancelSignal: signal,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (signal.aborted) throw Object.assign(new Error('stopped while the script ran'), { aborted: true });
    return {
      exitCode: typeof result.exitCode === 'number' ? result.exitCode : 255,
      stdout: String(result.stdout),
      stderr: String(result.stderr),
    };
  },
};
