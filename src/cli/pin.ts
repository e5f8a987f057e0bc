import path from 'node:path';
import { Command } from 'commander';
import { withEnvironmentDeps } from '../pipeline/environment-deps.js';
import { pinIntoEnvironment } from '../pipeline/environment-pins.js';
import { ssmPinLine } from '../pipeline/pin-ssm.js';
import { firstEnvironment, hasPinTargets, recipeInEnvironment } from '../recipes/environments.js';
import { imagesToPin } from '../pipeline/pin-decision.js';
import { planBakery, planWarnings } from '../pipeline/plan.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import { selectRecipes } from '../recipes/graph.js';
import { ARCH_HELP, architectureArgument } from './recipe-selection.js';
import type { Architecture } from '../tags/architecture.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { withCloud, noteBakeryName } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface PinFlags extends CommonFlags {
  arch?: Architecture;
  check?: boolean;
}

export function pinCommand(): Command {
  return withCommonFlags(new Command('pin').argument('[recipes...]'), { cloud: true })
    .description(
      "write each recipe's current AMI ids into its tfvars targets (layout and comments kept) and SSM parameters",
    )
    .option('--arch <arch>', ARCH_HELP, architectureArgument)
    .option('--check', 'change nothing; print a diff and exit 2 when a file or SSM parameter would change')
    .action(async (names: string[], flags: PinFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        // Fingerprints name galaxy roles by the commit they resolved to: the same install as build's.
        const bakery = await loadInstalledBakery(ctx);
        noteBakeryName(ctx, bakery);
        const check = Boolean(flags.check);
        // Like a build, pin writes only the first environment; the others change by promote and rollback.
        const environment = firstEnvironment(bakery.config);
        const recipes = selectRecipes(bakery, names, flags.arch).filter((r) =>
          hasPinTargets(recipeInEnvironment(r, environment)),
        );
        const { results, parameters } = await withCloud(ctx, async ({ aws }) => {
          const plan = await planBakery(bakery, recipes, await productionPlanDeps(bakery, aws));
          for (const warning of planWarnings(plan)) ctx.output.warn(warning);
          const requests = imagesToPin(plan, new Set(recipes.map((r) => r.name)));
          return withEnvironmentDeps(aws, bakery.config.bakery, async (deps) => {
            const pinned = await pinIntoEnvironment(bakery, requests, environment, deps, check);
            return { results: pinned.files, parameters: pinned.parameters };
          });
        });
        for (const result of results) {
          const where = path.relative(process.cwd(), result.file) || result.file;
          if (check && result.changed) ctx.output.info(result.diff.trimEnd());
          ctx.output.info(`${where}: ${result.changed ? (check ? 'would change' : 'pinned') : 'up to date'}`);
        }
        for (const parameter of parameters) ctx.output.info(ssmPinLine(parameter, check));
        ctx.output.result({
          files: results.map((r) => ({ file: r.file, changed: r.changed, edits: r.edits })),
          parameters,
        });
        return check && (results.some((r) => r.changed) || parameters.some((p) => p.changed)) ? 2 : 0;
      });
    });
}
