/**
 * `bake graph`: the recipe DAG as DOT (checked by Graphviz itself, which parses it back) and
 * Mermaid; hostile labels from recipe files stay inside their quotes.
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { renderGraph, type GraphNode } from '../../src/graph/recipe-graph.js';
import { minimalRole, tempBakery } from '../recipes/temp-bakery.js';
import { parseJsonOutput } from '../schema/json-schemas.js';

const BAKE = fileURLToPath(new URL('../../bin/bake.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../..', import.meta.url));

const bake = (...args: string[]) => execa('node', [BAKE, 'graph', ...args], { reject: false });

interface GraphvizJson {
  objects: Array<{ _gvid: number; name: string; label: string }>;
  edges?: Array<{ tail: number; head: number }>;
}

/** Graphviz's own reading of a DOT text: node name → label, and edges as `parent->child`. */
async function graphviz(dot: string) {
  const { stdout } = await execa('dot', ['-Tjson0'], { input: dot });
  const json = JSON.parse(stdout) as GraphvizJson;
  const byId = new Map(json.objects.map((o) => [o._gvid, o.name]));
  return {
    labels: Object.fromEntries(json.objects.map((o) => [o.name, o.label])),
    edges: (json.edges ?? []).map((e) => `${byId.get(e.tail)}->${byId.get(e.head)}`),
  };
}

describe('bake graph', () => {
  it('prints the example bakery as DOT that Graphviz reads back: one node per recipe, parent → child edges', async () => {
    const run = await bake('--dir', EXAMPLE);
    expect(run.exitCode).toBe(0);
    const read = await graphviz(run.stdout);
    expect(Object.keys(read.labels).sort()).toEqual(['base', 'web', 'worker']);
    expect(read.labels.base).toBe('base\\nfilter debian-12-amd64-*\\nus-east-1, eu-west-1');
    expect(read.edges.sort()).toEqual(['base->web', 'base->worker']);
  });

  it('prints Mermaid with one node per recipe and one arrow per FROM', async () => {
    const run = await bake('--dir', EXAMPLE, '--format', 'mermaid');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe(
      [
        'flowchart LR',
        '  r_base["base<br/>filter debian-12-amd64-*"]',
        '  r_web["web<br/>recipe base"]',
        '  r_worker["worker<br/>recipe base"]',
        '  r_base --> r_web',
        '  r_base --> r_worker',
      ].join('\n'),
    );
  });

  it('gives the graph as JSON with --json, and limits it to the named recipes', async () => {
    const run = await bake('--dir', EXAMPLE, '--json', 'web');
    expect(run.exitCode).toBe(0);
    const result = parseJsonOutput('graph', run.stdout) as { recipes: GraphNode[]; text: string };
    expect(result.recipes).toEqual([
      { name: 'web', arch: 'x86_64', base: 'recipe base', regions: ['us-east-1', 'eu-west-1'] },
    ]);
    expect(result.text).toContain('"web"');
  });

  it('refuses an unknown format and an unknown recipe in one line', async () => {
    const format = await bake('--dir', EXAMPLE, '--format', 'svg');
    expect(format.exitCode).toBe(1);
    expect(format.stderr).toContain("argument 'svg' is invalid. Allowed choices are dot, mermaid");
    const recipe = await bake('--dir', EXAMPLE, 'nope');
    expect(recipe.exitCode).toBe(1);
    expect(recipe.stderr.trim()).toBe('unknown recipe nope (this bakery has: base, web, worker)');
  });

  it('keeps a hostile label inside its quotes in both formats', async () => {
    // bake validate refuses such a filter name in a recipe (below); the renderer must hold it anyway.
    const hostile = 'x" ]; evil -> pwn; "\\ \n}[({|#`<b>&;';
    const dot = renderGraph(
      [{ name: 'app', arch: 'x86_64', base: `filter ${hostile}`, regions: ['us-east-1'] }],
      'dot',
    );
    const read = await graphviz(dot);
    expect(Object.keys(read.labels)).toEqual(['app']);
    expect(read.edges).toEqual([]);
    // Graphviz keeps escapes in labels as written: undo DOT's own (\\ and \") to compare.
    expect(read.labels.app.replace(/\\(["\\])/g, '$1')).toBe(
      `app\\nfilter ${hostile.replace('\n', '\\n')}\\nus-east-1`,
    );

    const dir = await tempBakery({
      ...minimalRole,
      'recipes/app.yaml': `name: app\nbase:\n  filter: { name: ${JSON.stringify(hostile)}, owners: ["amazon"] }\nroles: [common]\n`,
    });
    const refused = await bake('--dir', dir);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim()).toMatch(/recipes\/app\.yaml:3:\d+: base\.filter\.name: not an AMI name pattern/);

    const mermaid = renderGraph([{ name: 'app', arch: 'x86_64', base: `filter ${hostile}`, regions: [] }], 'mermaid');
    const label = mermaid.split('\n')[1];
    // One quoted label: no raw quote, bracket or line break of the hostile text survives.
    expect(label).toMatch(/^ {2}r_app\["[^"[\]{}()|<>\n]*<br\/>[^"[\]{}()|<>\n]*"\]$/);
    expect(label).toContain('#34;');
  });
});
