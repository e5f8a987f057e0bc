import path from 'node:path';
import { Command, Option } from 'commander';
import { loadInstalledBakery } from './installed-bakery.js';
import { chooseShape, type ShapeChoice } from '../packer/shape.js';
import { renderBakery } from '../packer/render-bakery.js';
import { renderJson } from '../packer/render-json.js';
import { contextFrom, withCommonFlags, type CommonFlags } from './context.js';
import { runCommand } from './run-command.js';

interface RenderFlags extends CommonFlags {
  out: string;
  packerShape: ShapeChoice;
}

export function renderCommand(): Command {
  return withCommonFlags(new Command('render').argument('[recipes...]'), { cloud: false })
    .description(
      "write each recipe's Packer template, playbook, verify script and cloud-init files to OUT/<recipe>/ (offline)",
    )
    .requiredOption('--out <dir>', 'where to write OUT/<recipe>/')
    .addOption(
      new Option(
        '--packer-shape <shape>',
        'template shape: legacy (Packer 1.6), modern (>= 1.7, plugins) or auto (ask packer)',
      )
        .choices(['legacy', 'modern', 'auto'])
        .default('auto'),
    )
    .action(async (recipes: string[], flags: RenderFlags) => {
      const ctx = contextFrom(flags);
      await runCommand(ctx, async () => {
        const bakery = await loadInstalledBakery(ctx);
        const { shape, version } = await chooseShape(flags.packerShape, (message) => ctx.output.warn(message));
        const rendered = await renderBakery(bakery, recipes, path.resolve(flags.out), { shape });
        for (const recipe of rendered) {
          ctx.output.info(
            `rendered ${recipe.recipe} → ${path.relative(process.cwd(), recipe.template) || recipe.template}`,
          );
          for (const gap of recipe.gaps) ctx.output.warn(`${recipe.recipe}: ${gap.setting}: ${gap.detail}`);
        }
        ctx.output.result(renderJson(shape, version, rendered));
      });
    });
}
