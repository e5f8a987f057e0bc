/**
 * The first step of `bake build`, before any Packer starts: the bakery checked exactly as `bake
 * validate` checks it — the same function, so a check added to validate stops a build too. Without
 * it, what validate finds only by rendering (a launch test's user-data or a cloud-init template
 * that does not render, or renders invalid YAML) surfaced after the recipe's parent, and the
 * recipe itself, had been baked: on AWS tens of minutes of Packer for an image never used.
 */
import type { Bakery } from '../recipes/model.js';
import { validateBakery } from './validate.js';

export async function validateBeforeBuild(root: string): Promise<Bakery> {
  return (await validateBakery(root)).bakery;
}
