import { Command } from 'commander';
import { buildMetadata } from '../ci/build-metadata.js';
import { withEnvironmentDeps } from '../pipeline/environment-deps.js';
import { revoke } from '../pipeline/revoke.js';
import { loadInstalledBakery } from './installed-bakery.js';
import { withCloud, noteBakeryName } from './cloud-session.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface RevokeFlags extends CommonFlags {
  reason?: string;
  by?: string;
  check?: boolean;
}

export function revokeCommand(): Command {
  return withCommonFlags(new Command('revoke').argument('<image-or-recipe>'), { cloud: true })
    .description(
      'revoke an image (or a recipe’s newest) and every image built FROM it; roll every environment pinning one back',
    )
    .option('--reason <text>', 'why (recorded on the images, shown by plan and images)')
    .option('--by <name>', 'who revokes (default: the Jenkins build, else user@host)')
    .option('--check', 'change nothing; say what would be revoked and rolled back, exit 2 when something would')
    .action(async (target: string, flags: RevokeFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        const bakery = await loadInstalledBakery(ctx);
        noteBakeryName(ctx, bakery);
        const check = Boolean(flags.check);
        const by = flags.by?.trim() || buildMetadata().lockHolder;
        const report = await withCloud(ctx, ({ aws }) =>
          withEnvironmentDeps(aws, bakery.config.bakery, (deps) =>
            revoke(bakery, { target, reason: flags.reason, by, check }, deps),
          ),
        );
        const would = check ? 'would be ' : '';
        for (const image of report.revoked)
          ctx.output.info(
            `${image.recipe} ${image.region} ${image.imageId}: ${image.newly ? `${would}revoked` : 'already revoked'}`,
          );
        const where = (m: { recipe: string; environment?: string; region: string }) =>
          `${m.recipe} ${m.environment ?? 'pins'} ${m.region}`;
        for (const move of report.moves.filter((m) => m.to))
          ctx.output.info(`${where(move)}: ${move.from} → ${move.to} (${check ? 'would roll back' : 'rolled back'})`);
        const left = report.moves.filter((m) => !m.to);
        for (const move of left)
          ctx.output.error(
            `${where(move)}: still pins revoked ${move.from}: no earlier image of ${move.recipe} that is not revoked and passed its launch test`,
          );
        ctx.output.result({
          revoked: report.revoked.map((i) => ({
            recipe: i.recipe,
            region: i.region,
            image_id: i.imageId,
            newly: i.newly,
          })),
          moves: report.moves.map((m) => ({
            recipe: m.recipe,
            ...(m.environment !== undefined && { environment: m.environment }),
            region: m.region,
            from: m.from,
            ...(m.to !== undefined && { to: m.to }),
          })),
        });
        if (left.length) return 1;
        return check && (report.revoked.some((i) => i.newly) || report.moves.length) ? 2 : 0;
      });
    });
}
