/**
 * Runs `packer build` for one rendered recipe. The full output goes to a log file (one per
 * recipe per run); only Packer's UI lines are handed to the caller for progress. AMI ids are
 * read afterwards from the manifest (./manifest.ts), not from this output.
 *
 * Packer's temp folder (TMPDIR) is a folder of this run in bake's private folder
 * (src/files/private-run-dir.ts), removed when Packer is done: Packer 1.6.6's Ansible provisioner
 * writes the build's SSH private key there (`ansible-key*`) and never removes it, so in /tmp it
 * outlived every build. Packer's own debug log (PACKER_LOG) goes to its stderr, which is masked
 * into the build log, never to a PACKER_LOG_PATH file bake could not mask.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import { BuildFailure } from '../errors/index.js';
import { maskSecrets } from '../io/secret-mask.js';
import { withPrivateRunDir } from '../files/private-run-dir.js';
import { diesWithBake } from '../files/dies-with-bake.js';

export interface PackerBuildRequest {
  /** Working directory of the run: the rendered recipe's folder. */
  templateDir: string;
  /** Template file name or path, as passed to `packer build`. */
  templateFile: string;
  /** Variables file (`-var-file`). */
  varFile: string;
  /** Packer's full stdout+stderr is appended here. */
  logFile: string;
  /** Extra environment for Packer (AWS endpoint, local-cloud credentials…). Never written to the log. */
  env?: Record<string, string | undefined>;
  /** Aborting sends SIGINT to Packer, which then cleans up its instances before exiting. */
  signal?: AbortSignal;
  /** Each output line, as it comes. */
  onLine?: (line: string) => void;
  /** The packer binary (default `packer`). */
  bin?: string;
  /** After SIGINT, how long Packer may take to clean up before it is killed (default 2 minutes). */
  graceMs?: number;
}

export interface PackerBuildResult {
  logFile: string;
  exitCode: number;
}

/** How many log lines a failure carries (enough for the Ansible task that failed and its message). */
export const FAILURE_TAIL_LINES = 20;

/** Packer ran and failed: the message is one line; the log's last lines travel with it. */
export class PackerBuildFailure extends BuildFailure {
  constructor(
    message: string,
    readonly logFile: string,
    readonly lastLines: string[],
  ) {
    super(message);
  }
}

/** Packer was interrupted on request (Ctrl-C, Jenkins abort) and has exited. */
export class PackerInterrupted extends BuildFailure {
  constructor(
    readonly logFile: string,
    readonly lastLines: string[],
    readonly forced: boolean,
  ) {
    super(forced ? 'packer was interrupted and killed after the grace period' : 'packer was interrupted');
  }
}

export async function runPackerBuild(request: PackerBuildRequest): Promise<PackerBuildResult> {
  return withPrivateRunDir('packer', (tempDir) => runPackerIn(request, tempDir));
}

async function runPackerIn(request: PackerBuildRequest, tempDir: string): Promise<PackerBuildResult> {
  const bin = request.bin ?? 'packer';
  const graceMs = request.graceMs ?? 120_000;
  await mkdir(path.dirname(request.logFile), { recursive: true });
  const log = createWriteStream(request.logFile, { flags: 'a' });
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > FAILURE_TAIL_LINES) tail.shift();
  };

  const args = ['build', '-color=false', `-var-file=${request.varFile}`, request.templateFile];
  // The command line holds paths only; the environment is deliberately not logged (it may hold credentials).
  log.write(`# ${new Date().toISOString()} ${bin} ${args.join(' ')} (in ${request.templateDir})\n`);

  if (request.env?.PACKER_LOG_PATH ?? process.env.PACKER_LOG_PATH)
    log.write("# bake: PACKER_LOG_PATH is not used: Packer's debug log (PACKER_LOG) goes into this log, masked\n");

  if (request.signal?.aborted) {
    await closeLog(log, '# not started: run interrupted\n');
    throw new PackerInterrupted(request.logFile, [], false);
  }

  // SIGTERM when bake dies (kill -9): Packer's wrapper passes it on, and Packer cancels the build
  // as on an interrupt (SIGINT would be ignored by the wrapper, which leaves it to the terminal).
  const [command, commandArgs] = diesWithBake('SIGTERM', bin, args);
  const subprocess = execa(command, commandArgs, {
    cwd: request.templateDir,
    // An undefined value removes the variable from what Packer inherits.
    env: { CHECKPOINT_DISABLE: '1', ...request.env, TMPDIR: tempDir, PACKER_LOG_PATH: undefined },
    extendEnv: true,
    all: true,
    buffer: false,
    reject: false,
    stdin: 'ignore',
    // Its own process group: a terminal Ctrl-C reaches bake only, and bake forwards exactly one
    // SIGINT (a second one makes Packer skip its cleanup). It also lets us kill the whole group.
    detached: true,
    // Packer must not be killed by execa's own exit hook while it is cleaning up.
    cleanup: false,
    forceKillAfterDelay: false,
  });

  let interrupted = false;
  let forced = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    if (interrupted) return;
    interrupted = true;
    log.write(`# ${new Date().toISOString()} bake: interrupt requested, sending SIGINT to packer\n`);
    signalGroup(subprocess.pid, 'SIGINT');
    killTimer = setTimeout(() => {
      forced = true;
      log.write(`# ${new Date().toISOString()} bake: packer still running after ${graceMs} ms, sending SIGKILL\n`);
      signalGroup(subprocess.pid, 'SIGKILL');
    }, graceMs);
  };
  request.signal?.addEventListener('abort', onAbort, { once: true });
  // Once Packer itself has exited, whatever is left in its group (a provisioner's stray child that
  // ignores SIGINT, holding the output pipe open) is an orphan: end it so nothing outlives the run.
  subprocess.on('exit', () => signalGroup(subprocess.pid, 'SIGKILL'));

  let partial = '';
  // A chunk may end inside a multi-byte character (Ansible prints UTF-8); the decoder keeps it whole.
  const decoder = new StringDecoder('utf8');
  // Whole lines only, each masked before anything else sees it: the log, the progress and the
  // failure tail never hold a secret value.
  const take = (line: string) => {
    const masked = maskSecrets(line);
    log.write(`${masked}\n`);
    remember(masked);
    request.onLine?.(masked);
  };
  subprocess.all?.on('data', (chunk: Buffer) => {
    const text = partial + decoder.write(chunk);
    const lines = text.split(/\r?\n/);
    partial = lines.pop() ?? '';
    lines.forEach(take);
  });

  const result = await subprocess;
  request.signal?.removeEventListener('abort', onAbort);
  if (killTimer) clearTimeout(killTimer);
  signalGroup(subprocess.pid, 'SIGKILL');
  await groupGone(subprocess.pid, 5_000);
  partial += decoder.end();
  if (partial) take(partial);
  const exitCode = typeof result.exitCode === 'number' ? result.exitCode : -1;
  const how = result.signal ? `killed by ${result.signal}` : `exit ${exitCode}`;
  await closeLog(log, `# ${new Date().toISOString()} packer finished: ${how}\n`);

  if (interrupted) throw new PackerInterrupted(request.logFile, [...tail], forced);
  if (result.failed) {
    const cause = result.code === 'ENOENT' ? `${bin} not found` : `packer build failed (${how})`;
    throw new PackerBuildFailure(`${cause}; see ${request.logFile}`, request.logFile, lastMeaningful(tail));
  }
  return { logFile: request.logFile, exitCode };
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals) {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Waits (bounded) until every process of the group has been reaped, so "done" means gone. */
async function groupGone(pid: number | undefined, timeoutMs: number): Promise<void> {
  if (!pid) return;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function closeLog(log: WriteStream, last: string): Promise<void> {
  return new Promise((resolve) => log.end(last, () => resolve()));
}

/** The tail without trailing blank lines, which Packer prints plenty of. */
function lastMeaningful(lines: string[]): string[] {
  const copy = [...lines];
  while (copy.length && copy[copy.length - 1].trim() === '') copy.pop();
  return copy;
}
