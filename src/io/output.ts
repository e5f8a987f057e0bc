/**
 * The output host: every word bake prints goes through here, and this is the only module that
 * writes to the process's streams. Streams by kind:
 *
 * - the result: with --json one JSON document on stdout; without, the command's answer for
 *   people (`info` lines, or `text` such as graph's DOT) on stdout;
 * - everything about the run rather than its answer (progress, notes, warnings, errors, debug
 *   text) on stderr, so stdout can be piped or redirected and holds only the answer.
 *
 * With --json, `info` lines go to stderr too: stdout is the JSON document alone. In CI (not a
 * TTY, or CI=true) the lines on stderr are timestamped (a console log reads as a timeline); what
 * goes to stdout never is: it is the answer, redirected into a file or piped into another tool
 * (`bake images > inventory.txt`, `bake plan | tee plan.txt`). Colour only on a TTY and never
 * when NO_COLOR is set.
 */
import { terminalSafe } from './terminal-text.js';
import { maskSecrets } from './secret-mask.js';

type Stream = NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };

export interface Output {
  readonly json: boolean;
  /** Progress is drawn live (listr2) rather than written as lines. */
  readonly interactive: boolean;
  readonly color: boolean;
  /** A line of the command's answer for people (a plan's recipes, pin's files). */
  info(message: string): void;
  /** What bake is doing now (a recipe started, a Packer milestone). */
  progress(message: string): void;
  /** Something bake decided that the user may want to know (a default it took). */
  note(message: string): void;
  warn(message: string): void;
  /** A one-line error, as it is (`path:line:col: message`): no timestamp, so tools can parse it. */
  error(message: string): void;
  /** Text shown only with --debug (stack traces). */
  debug(text: string): void;
  /** The machine-readable result: JSON on stdout with --json, nothing otherwise. */
  result(value: unknown): void;
  /** Text that is itself the answer (graph's DOT, local-cloud's exports): stdout as is, without --json only. */
  text(content: string): void;
  /** Where live progress (listr2) draws: stderr. */
  readonly screen: Stream;
}

export interface OutputOptions {
  json: boolean;
  debug?: boolean;
  env?: NodeJS.ProcessEnv;
  stdout?: Stream;
  stderr?: Stream;
  now?: () => Date;
}

export function isCi(env: NodeJS.ProcessEnv, stream: { isTTY?: boolean }): boolean {
  return env.CI === 'true' || env.CI === '1' || !stream.isTTY;
}

export function createOutput(options: OutputOptions): Output {
  const env = options.env ?? process.env;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const now = options.now ?? (() => new Date());
  const answerStream = options.json ? stderr : stdout;
  const interactive = !isCi(env, stderr);
  const color = interactive && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  // Everything bake prints passes the secret mask (src/io/secret-mask.ts), here and nowhere else.
  const write = (stream: Stream, text: string) => void stream.write(maskSecrets(text));
  const line = (text: string) => (interactive ? `${text}\n` : `${now().toISOString()} ${text}\n`);
  // The answer on stdout as it is; with --json it is human text on stderr, stamped like the rest there.
  const answerLine = options.json ? line : (text: string) => `${text}\n`;
  return {
    json: options.json,
    interactive,
    color,
    screen: stderr,
    info: (message) => write(answerStream, answerLine(terminalSafe(message))),
    progress: (message) => write(stderr, line(terminalSafe(message))),
    note: (message) => write(stderr, line(`note: ${terminalSafe(message)}`)),
    warn: (message) => write(stderr, line(`warning: ${terminalSafe(message)}`)),
    error: (message) => write(stderr, `${terminalSafe(message)}\n`),
    debug: (text) => {
      if (options.debug) write(stderr, text.endsWith('\n') ? text : `${text}\n`);
    },
    result: (value) => {
      if (options.json) write(stdout, `${JSON.stringify(value, null, 2)}\n`);
    },
    text: (content) => {
      if (!options.json) write(stdout, content);
    },
  };
}
