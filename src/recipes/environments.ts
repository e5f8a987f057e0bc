/**
 * Environments (`environments:` in bake.config.yaml, `environment:` on a pin target): the
 * ordered stages an image goes through. `bake build` pins the first; the others change only by
 * `bake promote`, `bake rollback` and `bake revoke` (docs/lifecycle.md).
 */
import { RecipeError, UsageError } from '../errors/index.js';
import { parseDuration } from './duration.js';
import type { BakeryConfig, PinTarget, PromotionGates, Recipe, SsmPinTarget } from './model.js';
import type { z } from 'zod';
import type { configSchema } from './schema.js';
import type { YamlSource } from './yaml-source.js';

type ConfigDocument = z.infer<typeof configSchema>;

/** The config's own mistakes: a name listed twice, gates for an environment that is not declared or is the first. */
export function environmentConfigErrors(source: YamlSource, config: ConfigDocument): RecipeError[] {
  const errors: RecipeError[] = [];
  const declared = config.environments ?? [];
  const twice = declared.filter((name, i) => declared.indexOf(name) !== i);
  if (twice.length)
    errors.push(
      new RecipeError(`environments lists ${[...new Set(twice)].join(', ')} more than once`, source.locate(['environments'])),
    );
  for (const name of Object.keys(config.promotion)) {
    const at = source.locate(['promotion', name], true);
    if (!declared.includes(name))
      errors.push(new RecipeError(`promotion: unknown environment ${name} (environments: ${declared.join(', ') || 'none'})`, at));
    else if (name === declared[0])
      errors.push(new RecipeError(`promotion: ${name} is the first environment, pinned by bake build; it has no gates`, at));
  }
  return errors;
}

export function promotionGatesOf(promotion: ConfigDocument['promotion']): Record<string, PromotionGates> {
  return Object.fromEntries(
    Object.entries(promotion).map(([name, gates]) => [
      name,
      { soakMs: gates.soak === undefined ? 0 : parseDuration(gates.soak)!, approval: gates.approval },
    ]),
  );
}

/**
 * Targets naming an environment the config does not declare, and one tfvars variable or SSM
 * parameter written by targets of two environments (a promotion would overwrite another
 * environment's pin).
 */
export function pinEnvironmentErrors(config: BakeryConfig, recipes: Recipe[]): RecipeError[] {
  const errors: RecipeError[] = [];
  const seen = new Map<string, { environment?: string; recipe: string }>();
  for (const recipe of recipes) {
    const targets: Array<[string, PinTarget | SsmPinTarget]> = [
      ...recipe.pin.map((t): [string, PinTarget] => [`${t.fileAsWritten} (${t.variable})`, t]),
      ...recipe.ssmPins.map((t): [string, SsmPinTarget] => [`SSM parameter ${t.parameter}`, t]),
    ];
    for (const [label, target] of targets) {
      if (target.environment !== undefined && !config.environments.includes(target.environment)) {
        errors.push(
          new RecipeError(
            `pin target ${label}: unknown environment ${target.environment} (environments: ${config.environments.join(', ') || 'none declared in bake.config.yaml'})`,
            target.location,
          ),
        );
        continue;
      }
      const identity = 'file' in target ? `file\0${target.file}\0${target.variable}` : `ssm\0${target.parameter}`;
      const other = seen.get(identity);
      if (other && other.environment !== target.environment)
        errors.push(
          new RecipeError(
            `pin target ${label} belongs to two environments: ${other.environment} (recipe ${other.recipe}) and ${target.environment}`,
            target.location,
          ),
        );
      else if (!other) seen.set(identity, { environment: target.environment, recipe: recipe.name });
    }
  }
  return errors;
}

/** The recipe with only the pin targets of `environment` (undefined: the bakery declares none, all of them). */
export function recipeInEnvironment(recipe: Recipe, environment: string | undefined): Recipe {
  if (environment === undefined) return recipe;
  return {
    ...recipe,
    pin: recipe.pin.filter((t) => t.environment === environment),
    ssmPins: recipe.ssmPins.filter((t) => t.environment === environment),
  };
}

export function hasPinTargets(recipe: Recipe): boolean {
  return recipe.pin.length > 0 || recipe.ssmPins.length > 0;
}

/** The environment `bake build` and `bake pin` write: the first declared (undefined: none declared). */
export function firstEnvironment(config: BakeryConfig): string | undefined {
  return config.environments[0];
}

/** A usage error, in validate's words, when the config does not declare `environment`. */
export function requireEnvironment(config: BakeryConfig, environment: string): void {
  if (!config.environments.includes(environment))
    throw new UsageError(
      `unknown environment ${environment} (bake.config.yaml environments: ${config.environments.join(', ') || 'none declared'})`,
    );
}

/** The environment a promotion into `environment` reads from; a usage error for the first or an unknown one. */
export function previousEnvironment(config: BakeryConfig, environment: string): string {
  requireEnvironment(config, environment);
  const index = config.environments.indexOf(environment);
  if (index === 0)
    throw new UsageError(`${environment} is the first environment: bake build pins it, nothing promotes into it`);
  return config.environments[index - 1];
}

/**
 * Tags an image may gain from environments, kept out of the recipe's own (EC2 allows 50 per image):
 * `bake:pinned:<env>` and `bake:promoted:<env>` per environment, and the three of a revocation.
 */
export function environmentTagBudget(config: BakeryConfig): number {
  return config.environments.length ? 2 * config.environments.length + 3 : 0;
}
