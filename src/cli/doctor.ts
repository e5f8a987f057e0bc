import { Command } from 'commander';
import { doctorJson, doctorLines, runDoctor } from '../pipeline/doctor.js';
import { productionDoctorDeps } from '../pipeline/doctor-deps.js';
import { selectRecipes } from '../recipes/graph.js';
import { loadBakery } from '../recipes/load-bakery.js';
import { noteBakeryName, withCloud } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

export function doctorCommand(): Command {
  return withCommonFlags(new Command('doctor').argument('[recipes...]'), { cloud: true })
    .description(
      'check the agent, the account, each recipe and every permission bake needs, changing nothing (EC2 dry runs); exit 1 when not ready',
    )
    .action(async (names: string[], flags: CommonFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        const bakery = await loadBakery(ctx.dir);
        noteBakeryName(ctx, bakery);
        const recipes = selectRecipes(bakery, names);
        return withCloud(ctx, async ({ aws }) => {
          const deps = productionDoctorDeps(aws, aws.region ?? recipes[0]?.regions[0] ?? 'us-east-1');
          try {
            const report = await runDoctor(bakery, recipes, deps, { local: ctx.local });
            for (const line of doctorLines(report)) ctx.output.info(line);
            ctx.output.result(doctorJson(report));
            return report.ready ? 0 : 1;
          } finally {
            deps.cloud.close();
          }
        });
      });
    });
}
