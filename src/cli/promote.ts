import path from 'node:path';
import { Command } from 'commander';
import { withEnvironmentDeps } from '../pipeline/environment-deps.js';
import { promote } from '../pipeline/promote.js';
import { promotionJson, promotionLines, promotionExitCode } from '../pipeline/promotion-output.js';
import { selectRecipes } from '../recipes/graph.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { withCloud, noteBakeryName } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface PromoteFlags extends CommonFlags {
  to: string;
  check?: boolean;
  approvedBy?: string;
}

export function promoteCommand(): Command {
  return withCommonFlags(new Command('promote').argument('[recipes...]'), { cloud: true })
    .description("pin into ENV's targets the AMI ids the previous environment's targets hold, once the gates allow")
    .requiredOption('--to <env>', 'the environment to promote into (bake.config.yaml environments:)')
    .option(
      '--approved-by <name>',
      'who approved the promotion (recorded on the images; required where approval: true)',
    )
    .option('--check', 'change nothing; print a diff and exit 2 when something would be promoted')
    .action(async (names: string[], flags: PromoteFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        const bakery = await loadInstalledBakery(ctx);
        noteBakeryName(ctx, bakery);
        const check = Boolean(flags.check);
        const recipes = selectRecipes(bakery, names);
        const report = await withCloud(ctx, ({ aws }) =>
          withEnvironmentDeps(aws, bakery.config.bakery, (deps) =>
            promote(bakery, recipes, { to: flags.to, check, approvedBy: flags.approvedBy }, deps),
          ),
        );
        const label = (file: string) => path.relative(process.cwd(), file) || file;
        for (const line of promotionLines(report, check, label)) ctx.output.info(line);
        for (const refused of report.recipes.filter((r) => r.refusal)) ctx.output.error(refused.refusal!);
        ctx.output.result(promotionJson(report));
        return promotionExitCode(report, check);
      });
    });
}
