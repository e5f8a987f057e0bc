import type { Attention, Inventory, InventoryImage } from './inventory.js';

const ATTENTION_LABELS: Record<Exclude<Attention['kind'], 'pending-fixes'>, string> = {
  'broken-pin': 'BROKEN',
  'revoked-pin': 'REVOKED',
  'stale-pin': 'stale ',
  'not-pinned': 'unpinned',
};

function attentionLabel(a: Attention): string {
  if (a.kind === 'pending-fixes') return a.overdue ? 'OVERDUE' : 'fixes ';
  return ATTENTION_LABELS[a.kind];
}

/** Columns padded to their widest cell, so the table reads on a terminal and in a CI log alike. */
export function tableLines(rows: string[][]): string[] {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  return rows.map((row) =>
    row
      .map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col])))
      .join('  ')
      .trimEnd(),
  );
}

export function inventoryLines(inventory: Inventory): string[] {
  const lines: string[] = [];
  // A bakery without environments keeps the table it always had.
  const withEnvironments = inventory.recipes.some((r) =>
    r.regions.some((g) => g.images.some((i) => i.environments.length || i.promotions.length)),
  );
  const environmentColumn = (cell: string) => (withEnvironments ? [cell] : []);
  for (const recipe of inventory.recipes) {
    lines.push(`${recipe.name} (fingerprint ${recipe.fingerprint})`);
    const rows = [
      [
        '  REGION',
        'IMAGE',
        '',
        'FINGERPRINT',
        'AGE',
        'DEPRECATES',
        'LAUNCH TEST',
        'SECURITY',
        'SHARED WITH',
        ...environmentColumn('ENVIRONMENTS'),
        'PINNED BY',
      ],
    ];
    for (const region of recipe.regions) {
      if (region.images.length === 0)
        rows.push([`  ${region.region}`, '(none)', '', '', '', '', '', '', '', ...environmentColumn(''), '']);
      for (const image of region.images) {
        rows.push([
          `  ${region.region}`,
          image.imageId,
          imageStatus(image),
          image.fingerprint,
          `${image.ageDays}d`,
          image.deprecationTime?.slice(0, 10) ?? '-',
          image.launchTest ?? '-',
          securityCell(image),
          image.sharing,
          ...environmentColumn(environmentCell(image)),
          image.pinnedBy.join(', ') || '-',
        ]);
      }
    }
    lines.push(...tableLines(rows));
  }
  if (inventory.attention.length) {
    lines.push('needs attention:');
    for (const a of inventory.attention) lines.push(`  ${attentionLabel(a)}  ${a.recipe} ${a.region}: ${a.message}`);
  } else {
    lines.push("nothing needs attention: every pin names its recipe's current image");
  }
  return lines;
}

/** revoked, current, older, or the image's state: the column after the image id (also the HTML report's). */
export function imageStatus(image: InventoryImage): string {
  return image.revoked ? 'revoked' : image.current ? 'current' : image.state === 'available' ? 'older' : image.state;
}

/** The SECURITY column (also the HTML report's): `2 pending (2026-12-01)` from the latest `bake:scan-*` tags. */
export function securityCell(image: InventoryImage): string {
  return image.scan ? `${image.scan.pending} pending (${image.scan.at.slice(0, 10)})` : 'not scanned';
}

/** `prod since 2026-12-01 (approved by alice)`: which environments pin the image now, and since when. */
function environmentCell(image: InventoryImage): string {
  const cells = image.environments.map((e) => {
    const approved = image.promotions.find((p) => p.environment === e.environment)?.approvedBy;
    return `${e.environment}${e.since ? ` since ${e.since.slice(0, 16).replace('T', ' ')}` : ''}${approved ? ` (approved by ${approved})` : ''}`;
  });
  return cells.join(', ') || '-';
}
