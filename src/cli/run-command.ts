import { BakeError } from '../errors/index.js';
import { terminalSafe } from '../io/terminal-text.js';
import { maskSecrets } from '../io/secret-mask.js';

/**
 * The one place where errors become exit codes. A BakeError is the user's to fix: one line,
 * its own exit code. Anything else is a bug in bake: one line too, the stack only with --debug.
 */
export async function runCommand(debug: boolean, action: () => Promise<number | void>): Promise<void> {
  try {
    const code = await action();
    process.exitCode = code ?? 0;
  } catch (error) {
    if (error instanceof BakeError) {
      process.stderr.write(maskSecrets(`${terminalSafe(error.toLine())}\n`));
      if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    const err = error as NodeJS.ErrnoException;
    if (err?.code === 'ENOSPC' || err?.code === 'EDQUOT') {
      // Not a bug in bake: the disk (or quota) is full. Writers remove their temporary files on the way out.
      process.stderr.write(maskSecrets(`${terminalSafe(err.path ? `${err.path}: ` : '')}no space left on device; free some space and run bake again\n`));
      process.exitCode = 1;
      return;
    }
    process.stderr.write(maskSecrets(`bake: internal error: ${terminalSafe(err?.message ?? String(error))}\n`));
    if (debug && err?.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
