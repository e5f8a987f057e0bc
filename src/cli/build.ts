import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { withCloud, noteBakeryName } from './cloud-session.js';
import { UsageError } from '../errors/index.js';
import { detectPackerShape } from '../packer/shape.js';
import { buildBakery } from '../pipeline/build.js';
import { preflightBuild } from '../pipeline/build-preflight.js';
import { productionDoctorDeps } from '../pipeline/doctor-deps.js';
import { productionBuildDeps } from '../pipeline/build-deps.js';
import { buildExitCode, buildJson, summaryLines } from '../pipeline/build-report.js';
import { writeJunit } from '../pipeline/junit.js';
import { planBakery, planWarnings } from '../pipeline/plan.js';
import { generatorChangeNote } from '../pipeline/plan-report.js';
import { bakeVersion } from '../release/installed-package.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import { createProgress } from '../pipeline/create-progress.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { validateBeforeBuild } from '../pipeline/validate-before-build.js';
import { buildMetadata } from '../ci/build-metadata.js';
import { durationArgument } from './duration.js';
import { contextFrom, withCommonFlags, type CommandContext, type CommonFlags } from './context.js';
import { ARCH_HELP, CHANGED_SINCE_HELP, architectureArgument, recipesToWorkOn } from './recipe-selection.js';
import type { Architecture } from '../tags/architecture.js';
import { whileInterruptible } from './interrupt.js';
import { runCommand } from './run-command.js';
import { REPORT_HELP, reportImages, writeHtmlReport } from './report-file.js';
import { buildReportModel } from '../report/report-data.js';

interface BuildFlags extends CommonFlags {
  arch?: Architecture;
  concurrency: number;
  force?: boolean;
  /** commander's `--no-pin`: true unless the flag is given. */
  pin: boolean;
  /** commander's `--no-distribute`: true unless the flag is given. */
  distribute: boolean;
  junit?: string;
  /** commander's `--no-lock`: true unless the flag is given. */
  lock: boolean;
  lockWait: number;
  lockStaleAfter: number;
  changedSince?: string;
  report?: string;
  /** commander's `--no-preflight`: true unless the flag is given. */
  preflight: boolean;
  launchTest: 'now' | 'later';
  parentUntested?: boolean;
}

function positiveWhole(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

export function buildCommand(): Command {
  return (
    withCommonFlags(new Command('build').argument('[recipes...]'), { cloud: true })
      .description('bake what the plan says (parents first), tag the images, then pin them into tfvars')
      .option('--concurrency <n>', 'recipes baked at once', positiveWhole, 2)
      .option('--force', 'rebuild even when an image with the same fingerprint exists')
      .option('--no-pin', 'do not write the new AMI ids into tfvars')
      .option(
        '--no-distribute',
        "bake only: leave the copies to other regions and the sharing to a later run (CI starts children on the build region's image meanwhile); implies --no-pin",
      )
      .option('--junit <file>', 'also write a JUnit XML report (one test case per recipe)')
      .option(
        '--lock-wait <duration>',
        "wait this long (e.g. 30m) for another job's bake of the same recipe instead of failing at once",
        durationArgument,
        0,
      )
      .option(
        '--lock-stale-after <duration>',
        'a build lock not refreshed for this long was left by a dead agent and is taken over (its holder refreshes it every minute)',
        durationArgument,
        10 * 60_000,
      )
      .option('--no-lock', 'do not take the per-recipe EC2 build lock (one bake at a time is then up to you)')
      .option('--changed-since <ref>', CHANGED_SINCE_HELP)
      .option('--arch <arch>', ARCH_HELP, architectureArgument)
      .option('--report <file>', REPORT_HELP)
      .option(
        '--no-preflight',
        'skip the permission check before Packer (EC2 dry runs; for an endpoint that does not know DryRun)',
      )
      // CI's split of a bake (Jenkinsfile): the image first, its launch test in a second run, while
      // children already bake on it in their own jobs.
      .addOption(
        new Option(
          '--launch-test <when>',
          'later (with --no-distribute): leave new images awaiting their launch test (bake:launch-test=pending); a later bake build tests them',
        )
          .choices(['now', 'later'])
          .default('now'),
      )
      .option(
        '--parent-untested',
        "bake on a parent's image still awaiting its launch test in another job; stop (skipped) if it fails, launch-test only once it passed",
      )
      .action(async (names: string[], flags: BuildFlags) => {
        const ctx = contextFrom(flags);
        await runCommand(ctx, () => build(ctx, names, flags));
      })
  );
}

async function build(ctx: CommandContext, names: string[], flags: BuildFlags): Promise<number> {
  const { output } = ctx;
  // Jenkins "Abort" sends SIGTERM, a terminal Ctrl-C SIGINT: both stop the run the same way.
  const notices = {
    interrupted: (signal: NodeJS.Signals) =>
      output.warn(`${signal} received: starting nothing new, interrupting running Packer builds and waiting for them`),
    again: (signal: NodeJS.Signals) =>
      output.warn(`${signal} again: still waiting for Packer to clean up its instances`),
  };
  // Nothing untested is ever copied, shared or pinned: a run that leaves its tests for later does none of that.
  if (flags.launchTest === 'later' && flags.distribute)
    throw new UsageError(
      '--launch-test later needs --no-distribute: an untested image is never copied, shared or pinned',
    );
  return whileInterruptible(notices, async (signal) => {
    // Everything `bake validate` checks, before the first Packer starts.
    const bakery = await loadInstalledBakery(ctx, validateBeforeBuild);
    noteBakeryName(ctx, bakery);
    const { recipes } = await recipesToWorkOn(ctx, bakery, names, flags.changedSince, flags.arch);
    const ci = buildMetadata();
    return await withCloud(ctx, async ({ aws, target, packerEnv }) => {
      const plan = await planBakery(bakery, recipes, () => productionPlanDeps(bakery, aws), {
        force: Boolean(flags.force),
        parentUntested: Boolean(flags.parentUntested),
      });
      const upgraded = generatorChangeNote(plan, bakeVersion());
      if (upgraded) output.note(upgraded);
      for (const warning of planWarnings(plan)) output.warn(warning);
      const { shape } = await detectPackerShape();
      if (flags.preflight)
        await preflightBuild(
          bakery,
          plan,
          () => productionDoctorDeps(aws, aws.region ?? recipes[0]?.regions[0] ?? 'us-east-1'),
          (message) => output.note(message),
        );
      const progress = createProgress(output);
      const lock = flags.lock
        ? { holder: ci.lockHolder, waitMs: flags.lockWait, staleAfterMs: flags.lockStaleAfter }
        : undefined;
      const deps = productionBuildDeps({ bakery, aws, shape, target, lock, note: (message) => progress.note(message) });
      const report = await buildBakery(bakery, plan, deps, {
        concurrency: flags.concurrency,
        force: Boolean(flags.force),
        pin: flags.pin,
        distribute: flags.distribute,
        signal,
        buildUrl: ci.buildUrl,
        jobName: ci.jobName,
        packerEnv,
        progress,
        launchTestLater: flags.launchTest === 'later',
      }).finally(() => progress.close());
      for (const line of summaryLines(report)) output.info(line);
      if (flags.junit) await writeJunit(path.resolve(flags.junit), report, new Date().toISOString());
      if (flags.report) {
        const now = new Date();
        const images = await reportImages(bakery, recipes, aws, now);
        await writeHtmlReport(flags.report, { ...buildReportModel(plan, report, now, [], ctx.dir), images });
      }
      output.result(buildJson(report));
      return buildExitCode(report);
    });
  });
}
