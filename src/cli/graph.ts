import { Command, Option } from 'commander';
import { GRAPH_FORMATS, graphNodes, renderGraph, type GraphFormat } from '../graph/recipe-graph.js';
import { selectRecipes } from '../recipes/graph.js';
import { ARCH_HELP, architectureArgument } from './recipe-selection.js';
import type { Architecture } from '../tags/architecture.js';
import { loadBakery } from '../recipes/load-bakery.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface GraphFlags extends CommonFlags {
  arch?: Architecture;
  format: GraphFormat;
}

export function graphCommand(): Command {
  return withCommonFlags(new Command('graph').argument('[recipes...]'), { cloud: false })
    .description('print the recipe DAG (which recipe is built FROM which) as Graphviz DOT or Mermaid; offline')
    .option('--arch <arch>', ARCH_HELP, architectureArgument)
    .addOption(new Option('--format <format>', 'dot or mermaid').choices(GRAPH_FORMATS).default('dot'))
    .action(async (names: string[], flags: GraphFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        const bakery = await loadBakery(ctx.dir);
        const nodes = graphNodes(selectRecipes(bakery, names, flags.arch));
        const text = renderGraph(nodes, flags.format);
        ctx.output.result({ format: flags.format, recipes: nodes, text });
        ctx.output.text(text);
      });
    });
}
