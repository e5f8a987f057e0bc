import { loadBakery } from '../recipes/load-bakery.js';
import type { Bakery } from '../recipes/model.js';
import { installGalaxyRequirements } from '../roles/galaxy-install.js';
import type { CommandContext } from './context.js';

/**
 * The bakery a command runs roles from: loaded and checked (by `load`: loadBakery's checks, or more),
 * its galaxy requirements installed (or found in the cache).
 */
export async function loadInstalledBakery(
  ctx: CommandContext,
  load: (root: string) => Promise<Bakery> = loadBakery,
): Promise<Bakery> {
  const bakery = await load(ctx.dir);
  await installGalaxy(ctx, bakery);
  return bakery;
}

export async function installGalaxy(ctx: CommandContext, bakery: Bakery): Promise<void> {
  await installGalaxyRequirements(bakery, { log: (line) => ctx.output.progress(line) });
}
