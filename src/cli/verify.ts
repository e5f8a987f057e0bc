import { Command } from 'commander';
import { UsageError } from '../errors/index.js';
import { selectRecipes } from '../recipes/graph.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { requireAnsiblePlaybook, requireRoot } from '../verify/prerequisites.js';
import { verifySummaryLines } from '../verify/verify-summary.js';
import { destroyVerifyInstances, productionVerifyDeps, verifyRecipes } from '../verify/verify-recipe.js';
import { contextFrom, withCommonFlags, type CommandContext, type CommonFlags } from './context.js';
import { whileInterruptible } from './interrupt.js';
import { runCommand } from './run-command.js';

interface VerifyFlags extends CommonFlags {
  fresh?: boolean;
  destroy?: boolean;
  idempotence?: boolean;
}

export function verifyCommand(): Command {
  return withCommonFlags(new Command('verify').argument('[recipes...]'), { cloud: false })
    .description(
      "provision recipes' roles into kept local instances and run their verify checks (seconds per try, not a bake)",
    )
    .option('--fresh', 'remove the kept instance and provision a new one from the base (proves a clean build)')
    .option('--destroy', 'remove the kept instances (of the named recipes; all when none is named) and stop')
    .option('--idempotence', 'run the roles twice; fail when the second run changes anything')
    .action(async (names: string[], flags: VerifyFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, () => verify(ctx, names, flags));
    });
}

async function verify(ctx: CommandContext, names: string[], flags: VerifyFlags): Promise<number> {
  if (flags.destroy && (flags.fresh || flags.idempotence))
    throw new UsageError('--destroy removes instances; it takes neither --fresh nor --idempotence');
  const deps = productionVerifyDeps({ bakeryRoot: ctx.dir, log: (line) => ctx.output.progress(line) });

  if (flags.destroy) {
    requireRoot('bake verify --destroy');
    const removed = await destroyVerifyInstances(ctx.dir, names, deps);
    ctx.output.info(removed.length ? `removed: ${removed.join(', ')}` : 'no kept verify instance to remove');
    ctx.output.result({ destroyed: removed });
    return 0;
  }

  const bakery = await loadInstalledBakery(ctx);
  if (names.length === 0)
    throw new UsageError(
      `name the recipes to verify (each gets a kept instance): ${bakery.recipes.map((r) => r.name).join(', ')}`,
    );
  const recipes = selectRecipes(bakery, names);
  requireRoot('bake verify');
  await requireAnsiblePlaybook();

  // A terminal Ctrl-C or Jenkins' abort: stop Ansible, then sshd; the filesystems stay.
  const reports = await whileInterruptible(
    { interrupted: (signal) => ctx.output.warn(`${signal} received: stopping Ansible and the instance`) },
    (signal) =>
      verifyRecipes(bakery, recipes, deps, {
        fresh: flags.fresh,
        idempotence: flags.idempotence,
        signal,
        progress: (line) => ctx.output.progress(line),
      }),
  );
  for (const line of verifySummaryLines(reports)) ctx.output.info(line);
  ctx.output.result({ recipes: reports });
  return reports.length === recipes.length && reports.every((report) => report.status === 'passed') ? 0 : 1;
}
