/**
 * The bench's stand-in for what a launch test does over SSH (src/launch-test/remote.ts): the
 * bench's instances are paper, so nothing answers on port 22. bake's real launch test runs around
 * it (RunInstances, the waits, TerminateInstances, the key pair and security group, over HTTP
 * against the local cloud); this only takes the time sshd and cloud-init take on AWS, in
 * simulated seconds, and answers cloud-init's verdict: `error` for the recipes told to fail.
 */
import type { RemoteMachine } from '../launch-test/remote.js';

export interface StandInRemoteOptions {
  /** Real seconds per simulated second. */
  timeScale: number;
  /** Simulated seconds from `running` until sshd lets the key in. */
  sshReadyS: number;
  /** Simulated seconds cloud-init takes on first boot. */
  cloudInitS: number;
  /** Whether cloud-init reports an error: the launch test fails. */
  fails: boolean;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Error('interrupted'));
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(new Error('interrupted'))), { once: true });
  });

export function standInRemote(options: StandInRemoteOptions): RemoteMachine {
  const simulated = (seconds: number) => seconds * options.timeScale * 1000;
  return {
    waitForSsh: (_target, signal) => sleep(simulated(options.sshReadyS), signal),
    cloudInit: async (_target, signal) => {
      await sleep(simulated(options.cloudInitS), signal);
      return options.fails
        ? { status: 'error', output: 'status: error (stand-in: this recipe is told to fail its launch test)' }
        : { status: 'done', output: 'status: done' };
    },
    runCheck: async () => ({ exitCode: 0, stderr: '', durationMs: 0 }),
    runScript: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
  };
}
