import { Command } from 'commander';
import { UsageError } from '../errors/index.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

export function buildCommand(): Command {
  return withCommonFlags(new Command('build').argument('[recipes...]'), { cloud: true })
    .description('(not built yet)')
    .action(async (_recipes: string[], flags: CommonFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx.debug, async () => {
        throw new UsageError('bake build is not built yet');
      });
    });
}
