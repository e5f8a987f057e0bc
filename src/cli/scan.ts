import { Command, InvalidArgumentError } from 'commander';
import { selectRecipes } from '../recipes/graph.js';
import { newRunId } from '../pipeline/build.js';
import { createParameterStore } from '../aws/ssm-parameters.js';
import {
  checkScanEnvironment,
  DEFAULT_SCAN_CONCURRENCY,
  scanBakery,
  scanExitCode,
  scanJson,
  scanLines,
} from '../pipeline/scan.js';
import { productionScanDeps } from '../pipeline/scan-deps.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { noteBakeryName, withCloud } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommandContext, type CommonFlags } from './context.js';
import { whileInterruptible } from './interrupt.js';
import { runCommand } from './run-command.js';

interface ScanFlags extends CommonFlags {
  detailedExitcode?: boolean;
  concurrency: number;
  env?: string;
}

function positiveWhole(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

export function scanCommand(): Command {
  return withCommonFlags(new Command('scan').argument('[recipes...]'), { cloud: true })
    .description(
      "boot each recipe's current image and ask its package manager which packages have a pending security update; tag the answer on the image",
    )
    .option('--detailed-exitcode', 'exit 2 when a scanned image has pending security updates')
    .option(
      '--env <env>',
      "scan the images this environment's pin targets hold instead (bake.config.yaml environments:)",
    )
    .option('--concurrency <n>', 'images booted at once', positiveWhole, DEFAULT_SCAN_CONCURRENCY)
    .action(async (names: string[], flags: ScanFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, () => scan(ctx, names, flags));
    });
}

async function scan(ctx: CommandContext, names: string[], flags: ScanFlags): Promise<number> {
  const { output } = ctx;
  const notices = {
    interrupted: (signal: NodeJS.Signals) =>
      output.warn(`${signal}: stopping the scans and removing their instances (again to repeat this notice)`),
    again: (signal: NodeJS.Signals) => output.warn(`${signal} again: still removing the scans' instances`),
  };
  return whileInterruptible(notices, async (signal) => {
    const bakery = await loadInstalledBakery(ctx);
    noteBakeryName(ctx, bakery);
    const recipes = selectRecipes(bakery, names);
    if (flags.env !== undefined) checkScanEnvironment(bakery.config, flags.env);
    const runId = newRunId(new Date());
    return withCloud(ctx, async ({ aws, target }) => {
      const store = createParameterStore(aws);
      try {
        const deps = productionScanDeps({
          bakery,
          aws,
          target,
          runId,
          store,
          note: (recipe, line) => output.progress(`${recipe}: ${line}`),
        });
        const report = await scanBakery(recipes, deps, {
          concurrency: flags.concurrency,
          signal,
          environment: flags.env,
        });
        for (const line of scanLines(report)) output.info(line);
        output.result(scanJson(report, runId));
        return scanExitCode(report, Boolean(flags.detailedExitcode));
      } finally {
        store.close();
      }
    });
  });
}
