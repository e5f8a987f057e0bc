import { Command, InvalidArgumentError } from 'commander';
import { pruneBakery, pruneExitCode } from '../lifecycle/prune.js';
import { productionPruneDeps } from '../pipeline/prune-deps.js';
import { pruneJson, pruneLines } from '../lifecycle/prune-report.js';
import { selectRecipes } from '../recipes/graph.js';
import { ARCH_HELP, architectureArgument } from './recipe-selection.js';
import type { Architecture } from '../tags/architecture.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { withCloud, noteBakeryName } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { durationArgument } from './duration.js';
import { runCommand } from './run-command.js';

interface PruneFlags extends CommonFlags {
  arch?: Architecture;
  keep: number;
  olderThan?: { ms: number; label: string };
  apply?: boolean;
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('expected a whole number (0 or more)');
  return n;
}

export function pruneCommand(): Command {
  return withCommonFlags(new Command('prune').argument('[recipes...]'), { cloud: true })
    .description('list (default) or delete old AMIs and their snapshots; never one a tfvars target pins')
    .option('--keep <n>', 'newest images kept per recipe and region', wholeNumber, 3)
    .option(
      '--older-than <duration>',
      'only delete images built longer ago than this (12h, 30d, 2w)',
      (value: string) => ({
        ms: durationArgument(value),
        label: value.trim(),
      }),
    )
    .option('--arch <arch>', ARCH_HELP, architectureArgument)
    .option('--apply', 'deregister the images and delete their snapshots (default: only list them)')
    .action(async (names: string[], flags: PruneFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        // Fingerprints name galaxy roles by the commit they resolved to: the same install as build's.
        const bakery = await loadInstalledBakery(ctx);
        noteBakeryName(ctx, bakery);
        const recipes = names.length || flags.arch ? selectRecipes(bakery, names, flags.arch) : undefined;
        const report = await withCloud(ctx, async ({ aws }) =>
          pruneBakery(bakery, productionPruneDeps(bakery, aws), {
            recipes,
            keep: flags.keep,
            olderThanMs: flags.olderThan?.ms,
            olderThan: flags.olderThan?.label,
            apply: Boolean(flags.apply),
          }),
        );
        for (const line of pruneLines(report)) ctx.output.info(line);
        ctx.output.result(pruneJson(report));
        return pruneExitCode(report);
      });
    });
}
