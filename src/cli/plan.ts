import { Command } from 'commander';
import { withCloud } from './cloud-session.js';
import { planBakery } from '../pipeline/plan.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import { planExitCode, planJson, planLines } from '../pipeline/plan-report.js';
import { selectRecipes } from '../recipes/graph.js';
import { loadBakery } from '../recipes/load-bakery.js';
import { contextFrom, withCommonFlags, type CommandContext, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface PlanFlags extends CommonFlags {
  detailedExitcode?: boolean;
}

export function planCommand(): Command {
  return withCommonFlags(new Command('plan').argument('[recipes...]'), { cloud: true })
    .description('say per recipe whether its image is reused or must be baked, and why')
    .option('--detailed-exitcode', 'exit 2 when something would be built')
    .action(async (names: string[], flags: PlanFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx.debug, () => plan(ctx, names, Boolean(flags.detailedExitcode)));
    });
}

async function plan(ctx: CommandContext, names: string[], detailed: boolean): Promise<number> {
  const bakery = await loadBakery(ctx.dir);
  const recipes = selectRecipes(bakery, names);
  return withCloud(ctx, async ({ aws }) => {
    const result = await planBakery(bakery, recipes, await productionPlanDeps(bakery, aws));
    for (const line of planLines(result)) ctx.output.info(line);
    ctx.output.result(planJson(result));
    return planExitCode(result, detailed);
  });
}
