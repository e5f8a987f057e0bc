import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { startLocalCloud } from '../local-cloud/index.js';
import { detectPackerShape } from '../packer/shape.js';
import type { PackerTarget } from '../packer/target.js';
import { buildBakery } from '../pipeline/build.js';
import { productionBuildDeps } from '../pipeline/build-deps.js';
import { buildExitCode, summaryLines } from '../pipeline/build-report.js';
import { writeJunit } from '../pipeline/junit.js';
import { planBakery } from '../pipeline/plan.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import { createProgress } from '../pipeline/progress.js';
import { selectRecipes } from '../recipes/graph.js';
import { loadBakery } from '../recipes/load-bakery.js';
import { contextFrom, withCommonFlags, type CommandContext, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface BuildFlags extends CommonFlags {
  concurrency: number;
  force?: boolean;
  /** commander's `--no-pin`: true unless the flag is given. */
  pin: boolean;
  junit?: string;
}

function positiveWhole(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

export function buildCommand(): Command {
  return withCommonFlags(new Command('build').argument('[recipes...]'), { cloud: true })
    .description('bake what the plan says (parents first), tag the images, then pin them into tfvars')
    .option('--concurrency <n>', 'recipes baked at once', positiveWhole, 2)
    .option('--force', 'rebuild even when an image with the same fingerprint exists')
    .option('--no-pin', 'do not write the new AMI ids into tfvars')
    .option('--junit <file>', 'also write a JUnit XML report (one test case per recipe)')
    .action(async (names: string[], flags: BuildFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx.debug, () => build(ctx, names, flags));
    });
}

async function build(ctx: CommandContext, names: string[], flags: BuildFlags): Promise<number> {
  const { output } = ctx;
  const controller = new AbortController();
  // Jenkins "Abort" sends SIGTERM, a terminal Ctrl-C SIGINT: both stop the run the same way.
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      output.warn(`${signal} again: still waiting for Packer to clean up its instances`);
      return;
    }
    output.warn(`${signal} received: starting nothing new, interrupting running Packer builds and waiting for them`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let cloud: Awaited<ReturnType<typeof startLocalCloud>> | undefined;
  try {
    const bakery = await loadBakery(ctx.dir);
    const recipes = selectRecipes(bakery, names);
    let aws = ctx.aws;
    let target: PackerTarget | undefined;
    // Packer reads the same SDK chain; --profile must reach it too.
    let packerEnv: Record<string, string | undefined> | undefined = aws.profile ? { AWS_PROFILE: aws.profile } : undefined;
    if (ctx.local) {
      cloud = await startLocalCloud({ stateDir: path.join(ctx.dir, '.bake', 'local') });
      // The SDK's credential chain (bake's own tagging calls) must find something; the local cloud accepts any key.
      process.env.AWS_ACCESS_KEY_ID ??= cloud.env.AWS_ACCESS_KEY_ID;
      process.env.AWS_SECRET_ACCESS_KEY ??= cloud.env.AWS_SECRET_ACCESS_KEY;
      aws = { ...aws, endpoint: cloud.endpoint };
      target = { ec2Endpoint: cloud.endpoint, local: { sshPort: cloud.sshPort } };
      packerEnv = { ...packerEnv, ...cloud.env };
    } else if (aws.endpoint) {
      target = { ec2Endpoint: aws.endpoint };
    }
    const plan = await planBakery(bakery, recipes, await productionPlanDeps(bakery, aws), { force: Boolean(flags.force) });
    const { shape } = await detectPackerShape();
    const progress = createProgress(output);
    const report = await buildBakery(bakery, plan, productionBuildDeps({ bakery, aws, shape, target }), {
      concurrency: flags.concurrency,
      pin: flags.pin,
      signal: controller.signal,
      buildUrl: process.env.BUILD_URL || undefined,
      packerEnv,
      progress,
    }).finally(() => progress.close());
    for (const line of summaryLines(report)) output.info(line);
    if (flags.junit) await writeJunit(path.resolve(flags.junit), report, new Date().toISOString());
    output.result(report);
    return buildExitCode(report);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cloud?.close();
  }
}
