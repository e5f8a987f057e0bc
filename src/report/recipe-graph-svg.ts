/**
 * The recipe graph as an inline SVG picture: one node per recipe, in columns by depth (parents
 * left of their children), coloured by what happens to it. Plain SVG, laid out here, so the
 * report needs no script or library at view time.
 */
import { RecipeGraph } from '../recipes/graph.js';
import { escapeHtml } from './escape-html.js';
import type { ReportAction, ReportRecipe } from './report-model.js';

export const ACTION_COLOURS: Record<ReportAction, string> = {
  build: '#d97706',
  reuse: '#15803d',
  built: '#1d4ed8',
  reused: '#15803d',
  failed: '#b91c1c',
  skipped: '#6b7280',
  aborted: '#6b7280',
};

const NODE_W = 190;
const NODE_H = 52;
const GAP_X = 70;
const GAP_Y = 22;
const PAD = 12;

export function recipeGraphSvg(recipes: ReportRecipe[]): string {
  const columns = RecipeGraph.over(recipes, (r) => r.parent).levels();
  const position = new Map<string, { x: number; y: number }>();
  columns.forEach((column, c) =>
    column.forEach((r, row) =>
      position.set(r.name, { x: PAD + c * (NODE_W + GAP_X), y: PAD + row * (NODE_H + GAP_Y) }),
    ),
  );
  const width = PAD * 2 + Math.max(1, columns.length) * NODE_W + Math.max(0, columns.length - 1) * GAP_X;
  const height =
    PAD * 2 +
    Math.max(1, ...columns.map((c) => c.length)) * NODE_H +
    Math.max(0, Math.max(1, ...columns.map((c) => c.length)) - 1) * GAP_Y;

  const edges = recipes.flatMap((r) => {
    const from = r.parent ? position.get(r.parent) : undefined;
    const to = position.get(r.name);
    if (!from || !to) return [];
    const x1 = from.x + NODE_W;
    const y1 = from.y + NODE_H / 2;
    const x2 = to.x;
    const y2 = to.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    return [
      `<path class="edge" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 6},${y2}" marker-end="url(#arrow)"/>`,
    ];
  });
  const nodes = recipes.map((r) => {
    const { x, y } = position.get(r.name)!;
    const colour = ACTION_COLOURS[r.action];
    return [
      `<g class="node" data-recipe="${escapeHtml(r.name)}" data-action="${r.action}">`,
      `<title>${escapeHtml(`${r.name}: ${r.action}${r.reasons.length ? ` — ${r.reasons.join('; ')}` : ''}`)}</title>`,
      `<rect x="${x}" y="${y}" width="${NODE_W}" height="${NODE_H}" rx="8" fill="${colour}"/>`,
      `<text x="${x + NODE_W / 2}" y="${y + 22}" class="name">${escapeHtml(truncate(r.name, 24))}</text>`,
      `<text x="${x + NODE_W / 2}" y="${y + 40}" class="action">${escapeHtml(r.action)}${r.wave !== undefined ? ` · wave ${r.wave}` : ''}</text>`,
      '</g>',
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" aria-label="recipe graph" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#374151"/></marker></defs>',
    ...edges,
    ...nodes,
    '</svg>',
  ].join('\n');
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
