import { Command } from 'commander';
import { bakeryInventory } from '../images/inventory-deps.js';
import { inventoryExitCode } from '../images/inventory.js';
import { inventoryJson } from '../images/inventory-json.js';
import { inventoryLines } from '../images/inventory-lines.js';
import { selectRecipes } from '../recipes/graph.js';
import { ARCH_HELP, architectureArgument } from './recipe-selection.js';
import type { Architecture } from '../tags/architecture.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { withCloud } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';
import { durationArgument } from './duration.js';

interface ImagesFlags extends CommonFlags {
  arch?: Architecture;
  detailedExitcode?: boolean;
  maxPendingAge?: number;
}

export function imagesCommand(): Command {
  return withCommonFlags(new Command('images').argument('[recipes...]'), { cloud: true })
    .description(
      "each recipe's current and older images per region: what pins them, age, deprecation, launch test, sharing; broken and stale pins",
    )
    .option('--arch <arch>', ARCH_HELP, architectureArgument)
    .option(
      '--detailed-exitcode',
      'exit 2 when a pin names an image that no longer exists (or, with --max-pending-age, a pinned image has overdue security fixes)',
    )
    .option(
      '--max-pending-age <duration>',
      'a pinned image whose latest scan found security fixes pending for longer than this (e.g. 7d) is overdue',
      durationArgument,
    )
    .action(async (names: string[], flags: ImagesFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        // Today's fingerprints name galaxy roles by their resolved commits: the same install as build's.
        const bakery = await loadInstalledBakery(ctx);
        const recipes = selectRecipes(bakery, names, flags.arch);
        const inventory = await withCloud(ctx, ({ aws }) =>
          bakeryInventory(bakery, recipes, aws, new Date(), flags.maxPendingAge),
        );
        for (const line of inventoryLines(inventory)) ctx.output.info(line);
        ctx.output.result(inventoryJson(inventory));
        return inventoryExitCode(inventory, Boolean(flags.detailedExitcode));
      });
    });
}
