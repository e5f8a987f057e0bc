/**
 * The recipe DAG as text for docs and reviews: Graphviz DOT and Mermaid. Labels come from
 * recipe files (a filter name may hold any character), so each format's quoting is applied
 * by construction in one function per format.
 */
import { RecipeGraph } from '../recipes/graph.js';
import type { BaseImage, Recipe } from '../recipes/model.js';
import { architectureOfRecipe } from '../recipes/architectures.js';
import type { Architecture } from '../tags/architecture.js';

export type GraphFormat = 'dot' | 'mermaid';
export const GRAPH_FORMATS: GraphFormat[] = ['dot', 'mermaid'];

export interface GraphNode {
  name: string;
  /** The architecture of this node's image (x86_64 for recipes that name none). */
  arch: Architecture;
  /** What the recipe starts from, for the node's second line. */
  base: string;
  /** The recipe it is built FROM, when it is one of this bakery's. */
  parent?: string;
  regions: string[];
}

export function baseLabel(base: BaseImage): string {
  switch (base.kind) {
    case 'ami':
      return base.ami;
    case 'filter':
      return `filter ${base.name}`;
    case 'ssm':
      return `ssm ${base.parameter}`;
    case 'recipe':
      return `recipe ${base.recipe}`;
  }
}

export function graphNodes(recipes: Recipe[]): GraphNode[] {
  const graph = RecipeGraph.of(recipes);
  return recipes.map((r) => ({
    name: r.name,
    arch: architectureOfRecipe(r),
    base: baseLabel(r.base),
    ...(graph.parentOf(r.name) && { parent: graph.parentOf(r.name)!.name }),
    regions: [...r.regions],
  }));
}

/** A DOT double-quoted string: backslash and quote escaped, line breaks as DOT's `\n`. */
export function dotString(text: string): string {
  return `"${text
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\r?\n|\r/g, '\\n')}"`;
}

/**
 * A Mermaid quoted label of several lines. Mermaid has no backslash escapes: `"` and the
 * characters its labels interpret are written as entity codes (`#34;`, `#60;` …).
 */
export function mermaidLabel(lines: string[]): string {
  const code = (text: string) =>
    text.replace(/[#"<>&`[\]{}()|;]|\r\n|\r|\n/g, (ch) =>
      ch.startsWith('\r') || ch === '\n' ? ' ' : `#${ch.charCodeAt(0)};`,
    );
  return `"${lines.map(code).join('<br/>')}"`;
}

/** Recipe names are [a-z0-9-]; Mermaid ids must not start with a digit nor contain '-'. */
const mermaidId = (name: string) => `r_${name.replace(/[^a-z0-9]/g, (ch) => `_${ch.charCodeAt(0)}_`)}`;

export function renderGraph(nodes: GraphNode[], format: GraphFormat): string {
  return format === 'dot' ? dotGraph(nodes) : mermaidGraph(nodes);
}

function dotGraph(nodes: GraphNode[]): string {
  const lines = ['digraph recipes {', '  rankdir=LR;', '  node [shape=box, style=rounded];'];
  for (const node of nodes) {
    lines.push(
      `  ${dotString(node.name)} [label=${dotString(`${node.name}\n${node.base}\n${node.regions.join(', ')}`)}];`,
    );
  }
  for (const node of nodes) if (node.parent) lines.push(`  ${dotString(node.parent)} -> ${dotString(node.name)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function mermaidGraph(nodes: GraphNode[]): string {
  const lines = ['flowchart LR'];
  for (const node of nodes) {
    lines.push(`  ${mermaidId(node.name)}[${mermaidLabel([node.name, node.base])}]`);
  }
  for (const node of nodes) if (node.parent) lines.push(`  ${mermaidId(node.parent)} --> ${mermaidId(node.name)}`);
  return `${lines.join('\n')}\n`;
}
