import { Command } from 'commander';
import { withCloud, noteBakeryName } from './cloud-session.js';
import { planBakery, planWarnings } from '../pipeline/plan.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import { generatorChangeNote, planExitCode, planJson, planLines } from '../pipeline/plan-report.js';
import { bakeVersion } from '../release/installed-package.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { contextFrom, withCommonFlags, type CommandContext, type CommonFlags } from './context.js';
import { ARCH_HELP, CHANGED_SINCE_HELP, architectureArgument, recipesToWorkOn } from './recipe-selection.js';
import type { Architecture } from '../tags/architecture.js';
import { runCommand } from './run-command.js';
import { REPORT_HELP, reportImages, writeHtmlReport } from './report-file.js';
import { planReportModel } from '../report/report-data.js';

interface PlanFlags extends CommonFlags {
  arch?: Architecture;
  detailedExitcode?: boolean;
  changedSince?: string;
  report?: string;
}

export function planCommand(): Command {
  return withCommonFlags(new Command('plan').argument('[recipes...]'), { cloud: true })
    .description('say per recipe whether its image is reused or must be baked, and why')
    .option('--detailed-exitcode', 'exit 2 when something would be built')
    .option('--changed-since <ref>', CHANGED_SINCE_HELP)
    .option('--arch <arch>', ARCH_HELP, architectureArgument)
    .option('--report <file>', REPORT_HELP)
    .action(async (names: string[], flags: PlanFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, () => plan(ctx, names, flags));
    });
}

async function plan(ctx: CommandContext, names: string[], flags: PlanFlags): Promise<number> {
  const bakery = await loadInstalledBakery(ctx);
  noteBakeryName(ctx, bakery);
  const { recipes, changes } = await recipesToWorkOn(ctx, bakery, names, flags.changedSince, flags.arch);
  return withCloud(ctx, async ({ aws }) => {
    const result = await planBakery(bakery, recipes, () => productionPlanDeps(bakery, aws));
    for (const warning of planWarnings(result)) ctx.output.warn(warning);
    const upgraded = generatorChangeNote(result, bakeVersion());
    if (upgraded) ctx.output.note(upgraded);
    for (const line of planLines(result)) ctx.output.info(line);
    ctx.output.result(planJson(result, changes));
    if (flags.report) {
      const now = new Date();
      const images = await reportImages(bakery, recipes, aws, now);
      await writeHtmlReport(flags.report, { ...planReportModel(result, now), images });
    }
    return planExitCode(result, Boolean(flags.detailedExitcode));
  });
}
