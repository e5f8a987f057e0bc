import { BakeError } from '../errors/index.js';
import type { Output } from '../io/output.js';

/**
 * The one place where errors become exit codes. A BakeError is the user's to fix: one line,
 * its own exit code. Anything else is a bug in bake: one line too, the stack only with --debug.
 */
export async function runCommand(ctx: { output: Output }, action: () => Promise<number | void>): Promise<void> {
  const { output } = ctx;
  try {
    const code = await action();
    process.exitCode = code ?? 0;
  } catch (error) {
    if (error instanceof BakeError) {
      output.error(error.toLine());
      if (error.stack) output.debug(error.stack);
      process.exitCode = error.exitCode;
      return;
    }
    const err = error as NodeJS.ErrnoException;
    if (err?.code === 'ENOSPC' || err?.code === 'EDQUOT') {
      // Not a bug in bake: the disk (or quota) is full. Writers remove their temporary files on the way out.
      output.error(`${err.path ? `${err.path}: ` : ''}no space left on device; free some space and run bake again`);
      process.exitCode = 1;
      return;
    }
    output.error(`bake: internal error: ${err?.message ?? String(error)}`);
    if (err?.stack) output.debug(err.stack);
    process.exitCode = 1;
  }
}
