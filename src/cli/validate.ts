import { Command } from 'commander';
import { validateBakery } from '../pipeline/validate.js';
import { selectRecipes } from '../recipes/graph.js';
import { ARCH_HELP, architectureArgument } from './recipe-selection.js';
import type { Architecture } from '../tags/architecture.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { installGalaxy } from './installed-bakery.js';
import { runCommand } from './run-command.js';

export function validateCommand(): Command {
  return withCommonFlags(new Command('validate').argument('[recipes...]'), { cloud: false })
    .description('check recipes, roles and cloud-init templates (offline); every problem as path:line:col')
    .option('--arch <arch>', ARCH_HELP, architectureArgument)
    .action(async (names: string[], flags: CommonFlags & { arch?: Architecture }) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        const { bakery, cloudInitCount } = await validateBakery(ctx.dir);
        await installGalaxy(ctx, bakery);
        const recipes = selectRecipes(bakery, names, flags.arch);
        ctx.output.info(
          `ok: ${recipes.length} recipes, ${bakery.roles.size} roles, ${cloudInitCount} cloud-init templates`,
        );
        ctx.output.result({ valid: true, recipes: recipes.map((r) => r.name) });
      });
    });
}
