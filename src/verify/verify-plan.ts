/**
 * What `bake verify` runs, decided from the bakery alone: the recipe's chain (its ancestors
 * root first, then itself — the order Packer bakes them, each image FROM the previous one),
 * the variables each playbook gets, which checks cannot mean anything in a local instance, and
 * what a kept instance still holds that the recipes no longer ask for.
 */
import { RecipeGraph } from '../recipes/graph.js';
import type { Bakery, Recipe } from '../recipes/model.js';

/** Root first, the recipe last. */
export function verifyChain(bakery: Bakery, recipe: Recipe): Recipe[] {
  return [...RecipeGraph.of(bakery.recipes).ancestorsOf(recipe.name), recipe];
}

/**
 * The extra vars Packer gives the playbook of each recipe (`bake_recipe`, `bake_fingerprint`),
 * plus `bake_verify` so a role can tell the two apart. A fingerprint needs the resolved base
 * image (EC2); offline it is empty, as in `bake render`'s output.
 */
export function playbookExtraVars(recipe: Recipe): Record<string, unknown> {
  return { bake_recipe: recipe.recipeName ?? recipe.name, bake_fingerprint: '', bake_verify: true };
}

/** What one verify provisioned, per recipe of the chain: kept in provisioned.json. */
export interface ProvisionRecord {
  recipe: string;
  /** When the instance's filesystem was made from the base (ISO 8601). */
  createdAt: string;
  /** The last run that completed its provisioning. */
  provisionedAt: string;
  chain: { recipe: string; roles: string[]; cloudInitFiles: string[] }[];
}

export function provisionRecord(
  recipe: Recipe,
  chain: readonly { recipe: Recipe; cloudInitFiles: string[] }[],
  createdAt: string,
  now: string,
): ProvisionRecord {
  return {
    recipe: recipe.name,
    createdAt,
    provisionedAt: now,
    chain: chain.map((stage) => ({
      recipe: stage.recipe.name,
      roles: stage.recipe.roles.map((r) => r.name),
      cloudInitFiles: stage.cloudInitFiles,
    })),
  };
}

/**
 * What an earlier run put on the kept instance that the current chain no longer provisions:
 * Ansible only adds and changes, so these stay until `--fresh`. One phrase each, for a warning.
 */
export function leftoversOf(previous: ProvisionRecord, current: ProvisionRecord): string[] {
  const roles = new Set(current.chain.flatMap((stage) => stage.roles));
  const files = new Set(current.chain.flatMap((stage) => stage.cloudInitFiles));
  const recipes = new Set(current.chain.map((stage) => stage.recipe));
  const out: string[] = [];
  for (const stage of previous.chain) {
    if (!recipes.has(stage.recipe)) out.push(`recipe ${stage.recipe}`);
    for (const role of stage.roles) if (!roles.has(role)) out.push(`role ${role}`);
    for (const file of stage.cloudInitFiles) if (!files.has(file)) out.push(`cloud-init file ${file}`);
  }
  return [...new Set(out)];
}
