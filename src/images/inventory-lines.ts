import type { Attention, Inventory } from './inventory.js';

function attentionLabel(a: Attention): string {
  if (a.kind === 'pending-fixes') return a.overdue ? 'OVERDUE' : 'fixes ';
  return a.kind === 'broken-pin' ? 'BROKEN' : a.kind === 'stale-pin' ? 'stale ' : 'unpinned';
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
        'PINNED BY',
      ],
    ];
    for (const region of recipe.regions) {
      if (region.images.length === 0) rows.push([`  ${region.region}`, '(none)', '', '', '', '', '', '', '', '']);
      for (const image of region.images) {
        rows.push([
          `  ${region.region}`,
          image.imageId,
          image.current ? 'current' : image.state === 'available' ? 'older' : image.state,
          image.fingerprint,
          `${image.ageDays}d`,
          image.deprecationTime?.slice(0, 10) ?? '-',
          image.launchTest ?? '-',
          image.scan ? `${image.scan.pending} pending (${image.scan.at.slice(0, 10)})` : 'not scanned',
          image.sharing,
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
