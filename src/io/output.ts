/**
 * Where bake's words go. With --json the machine-readable result owns stdout and every
 * human line goes to stderr; in CI (non-TTY or CI=true) lines are timestamped; colour only
 * on a TTY and never when NO_COLOR is set.
 */
import { terminalSafe } from './terminal-text.js';
import { maskSecrets } from '../io/secret-mask.js';

export interface Output {
  readonly json: boolean;
  readonly interactive: boolean;
  readonly color: boolean;
  /** A line for people. */
  info(message: string): void;
  warn(message: string): void;
  /** The command's result: JSON on stdout with --json, otherwise nothing (commands print their own summary via info). */
  result(value: unknown): void;
}

export interface OutputOptions {
  json: boolean;
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };
  stderr?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };
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
  const humanStream = options.json ? stderr : stdout;
  const interactive = !isCi(env, humanStream);
  const color = interactive && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  // Everything bake prints passes the secret mask (src/io/secret-mask.ts).
  const line = (text: string) => maskSecrets(interactive ? `${text}\n` : `${now().toISOString()} ${text}\n`);
  return {
    json: options.json,
    interactive,
    color,
    info: (message) => void humanStream.write(line(terminalSafe(message))),
    warn: (message) => void stderr.write(line(`warning: ${terminalSafe(message)}`)),
    result: (value) => {
      if (options.json) stdout.write(maskSecrets(`${JSON.stringify(value, null, 2)}\n`));
    },
  };
}
