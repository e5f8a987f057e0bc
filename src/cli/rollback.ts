import path from 'node:path';
import { Command } from 'commander';
import { withEnvironmentDeps } from '../pipeline/environment-deps.js';
import { rollback } from '../pipeline/rollback.js';
import { ssmPinLine } from '../pipeline/pin-ssm.js';
import { environmentPinJson } from '../pipeline/promotion-output.js';
import { selectRecipes } from '../recipes/graph.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { withCloud, noteBakeryName } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface RollbackFlags extends CommonFlags {
  env: string;
  to?: string;
  check?: boolean;
}

export function rollbackCommand(): Command {
  return withCommonFlags(new Command('rollback').argument('<recipe>'), { cloud: true })
    .description('pin back into ENV the image it pinned before the current one (or --to AMI)')
    .requiredOption('--env <env>', 'the environment to roll back')
    .option('--to <ami>', 'the image to pin (its copies in the other regions with it)')
    .option('--check', 'change nothing; print a diff and exit 2 when something would change')
    .action(async (name: string, flags: RollbackFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        const bakery = await loadInstalledBakery(ctx);
        noteBakeryName(ctx, bakery);
        const check = Boolean(flags.check);
        const [recipe] = selectRecipes(bakery, [name]);
        const report = await withCloud(ctx, ({ aws }) =>
          withEnvironmentDeps(aws, bakery.config.bakery, (deps) =>
            rollback(bakery, recipe, { environment: flags.env, to: flags.to, check }, deps),
          ),
        );
        for (const file of report.files) {
          if (check && file.changed) ctx.output.info(file.diff.trimEnd());
          const where = path.relative(process.cwd(), file.file) || file.file;
          ctx.output.info(`${where}: ${file.changed ? (check ? 'would change' : 'pinned') : 'up to date'}`);
        }
        for (const parameter of report.parameters) ctx.output.info(ssmPinLine(parameter, check));
        for (const [region, ami] of Object.entries(report.amis))
          ctx.output.info(
            `${report.recipe} ${report.environment} ${region}: ${report.replaced[region] ?? '(none)'} → ${ami}${check ? ' (would roll back)' : ' (rolled back)'}`,
          );
        ctx.output.result({
          recipe: report.recipe,
          environment: report.environment,
          replaced: report.replaced,
          amis: report.amis,
          ...environmentPinJson(report),
        });
        const changed = report.files.some((f) => f.changed) || report.parameters.some((p) => p.changed);
        return check && changed ? 2 : 0;
      });
    });
}
