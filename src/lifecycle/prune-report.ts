/** How a prune reads: a table for people (what goes and why, what stays and why) and the `--json` document. */
import { splitRecipeKey } from '../tags/architecture.js';
import type { PruneReport, PrunedImage } from './prune.js';

const STATUS_WORD: Record<PrunedImage['status'], string> = {
  kept: 'keep',
  'would-delete': 'would delete',
  deleted: 'deleted',
  failed: 'FAILED',
};

function pad(rows: string[][]): string[] {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  '),
  );
}

export function pruneLines(report: PruneReport): string[] {
  const lines: string[] = [];
  for (const region of report.regions) if (region.error) lines.push(`${region.region}: not pruned: ${region.error}`);
  if (report.images.length === 0) {
    lines.push('no images tagged by bake in these regions');
    return lines;
  }
  const rows = report.images.map((image) => [
    STATUS_WORD[image.status],
    image.region,
    image.imageId,
    image.recipe,
    image.builtAt ? image.builtAt.slice(0, 10) : '?',
    image.reasons.join('; '),
  ]);
  const table = pad(rows);
  report.images.forEach((image, i) => {
    lines.push(table[i]);
    if (image.error) lines.push(`    ${image.error}`);
    const snapshots = image.snapshotsDeleted ?? [];
    if (image.status === 'deleted' && snapshots.length) lines.push(`    snapshots deleted: ${snapshots.join(', ')}`);
    for (const [snapshot, why] of Object.entries(image.snapshotsKept ?? {}))
      lines.push(`    snapshot ${snapshot} kept: ${why}`);
  });
  const count = (status: PrunedImage['status']) => report.images.filter((i) => i.status === status).length;
  if (!report.apply) {
    lines.push(`dry run: ${count('would-delete')} would be deleted, ${count('kept')} kept; --apply deletes them`);
  } else {
    const snapshots = report.images.reduce((n, i) => n + (i.snapshotsDeleted?.length ?? 0), 0);
    lines.push(
      `${count('deleted')} deleted (${snapshots} snapshots), ${count('failed')} failed, ${count('kept')} kept`,
    );
  }
  return lines;
}

/** `{"apply", "keep", "older_than", "regions": [...], "images": [{image_id, region, recipe, fingerprint, built_at, action, status, reasons, …}]}` */
export function pruneJson(report: PruneReport): unknown {
  return {
    apply: report.apply,
    keep: report.keep,
    older_than: report.olderThan ?? null,
    regions: report.regions,
    images: report.images.map((image) => ({
      image_id: image.imageId,
      region: image.region,
      recipe: image.recipe,
      arch: splitRecipeKey(image.recipe).architecture,
      fingerprint: image.fingerprint,
      name: image.name,
      built_at: image.builtAt,
      action: image.action,
      status: image.status,
      reasons: image.reasons,
      snapshots: image.snapshotIds,
      ...(image.error ? { error: image.error } : {}),
      ...(image.snapshotsDeleted ? { snapshots_deleted: image.snapshotsDeleted } : {}),
      ...(image.snapshotsKept && Object.keys(image.snapshotsKept).length
        ? { snapshots_kept: image.snapshotsKept }
        : {}),
    })),
  };
}
