/**
 * Reads the values of recipes' build-time secrets, before anything is started: a secret that
 * cannot be read fails the run naming the recipe line, and every value read is registered
 * with the mask at once, so it is hidden in whatever bake prints or writes from then on.
 */
import { RecipeError, RecipeErrors } from '../errors/index.js';
import type { Recipe, Secret } from '../recipes/model.js';
import { MIN_SECRET_LENGTH, registerSecret } from '../io/secret-mask.js';

/** Secret name → value, for one recipe. Held in memory only. */
export type SecretValues = Record<string, string>;

export interface SecretSources {
  env: NodeJS.ProcessEnv;
  /** A parameter's decrypted value in a region; undefined when it does not exist. */
  readParameter(region: string, name: string): Promise<string | undefined>;
}

/** Recipe name → its secrets' values; recipes without secrets are left out. */
export async function resolveSecrets(
  recipes: readonly Recipe[],
  sources: SecretSources,
): Promise<Map<string, SecretValues>> {
  const resolved = new Map<string, SecretValues>();
  const errors: RecipeError[] = [];
  for (const recipe of recipes) {
    if (!recipe.secrets?.length) continue;
    const values: SecretValues = {};
    for (const secret of recipe.secrets) {
      try {
        const value = await readSecret(secret, recipe.regions[0], sources);
        registerSecret(value);
        values[secret.name] = value;
      } catch (error) {
        if (error instanceof RecipeError) errors.push(error);
        else throw error;
      }
    }
    resolved.set(recipe.name, values);
  }
  if (errors.length) throw new RecipeErrors(errors);
  return resolved;
}

async function readSecret(secret: Secret, region: string, sources: SecretSources): Promise<string> {
  const { source } = secret;
  let value: string | undefined;
  let where: string;
  if (source.kind === 'env') {
    where = `environment variable ${source.variable}`;
    value = sources.env[source.variable];
  } else {
    where = `SSM parameter ${source.parameter} in ${region}`;
    try {
      value = await sources.readParameter(region, source.parameter);
    } catch (error) {
      // The SDK's message names the parameter at most, never a value.
      throw new RecipeError(
        `secret ${secret.name}: cannot read ${where}: ${(error as Error).name}: ${(error as Error).message}`,
        secret.location,
      );
    }
  }
  if (value === undefined || value === '')
    throw new RecipeError(`secret ${secret.name}: ${where} is not set`, secret.location);
  if (value.trim().length < MIN_SECRET_LENGTH)
    throw new RecipeError(
      `secret ${secret.name}: the value in ${where} is shorter than ${MIN_SECRET_LENGTH} characters, too short to mask in output`,
      secret.location,
    );
  return value;
}
