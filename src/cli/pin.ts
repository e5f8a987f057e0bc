import path from 'node:path';
import { Command } from 'commander';
import { createParameterStore } from '../aws/ssm-parameters.js';
import { pinImages, pinRootsOf } from '../pipeline/pin.js';
import { pinSsmParameters, ssmPinLine } from '../pipeline/pin-ssm.js';
import { imagesToPin } from '../pipeline/pin-decision.js';
import { planBakery } from '../pipeline/plan.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import { selectRecipes } from '../recipes/graph.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { withCloud, noteBakeryName } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface PinFlags extends CommonFlags {
  check?: boolean;
}

export function pinCommand(): Command {
  return withCommonFlags(new Command('pin').argument('[recipes...]'), { cloud: true })
    .description(
      "write each recipe's current AMI ids into its tfvars targets (layout and comments kept) and SSM parameters",
    )
    .option('--check', 'change nothing; print a diff and exit 2 when a file or SSM parameter would change')
    .action(async (names: string[], flags: PinFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        // Fingerprints name galaxy roles by the commit they resolved to: the same install as build's.
        const bakery = await loadInstalledBakery(ctx);
        noteBakeryName(ctx, bakery);
        const check = Boolean(flags.check);
        const recipes = selectRecipes(bakery, names).filter((r) => r.pin.length > 0 || r.ssmPins.length > 0);
        const { results, parameters } = await withCloud(ctx, async ({ aws }) => {
          const plan = await planBakery(bakery, recipes, await productionPlanDeps(bakery, aws));
          const requests = imagesToPin(plan, new Set(recipes.map((r) => r.name)));
          const store = createParameterStore(aws);
          try {
            const files = await pinImages(
              requests.filter((r) => r.recipe.pin.length > 0),
              { check, roots: pinRootsOf(bakery) },
            );
            return { results: files, parameters: await pinSsmParameters(requests, store, { check }) };
          } finally {
            store.close();
          }
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
