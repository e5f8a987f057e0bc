/**
 * `pin: - ssm: /images/web/ami`: the recipe's AMI of each region written into that region's
 * SSM parameter (data type aws:ec2:image), for stacks that read `data "aws_ssm_parameter"` and
 * for Launch Templates (`resolve:ssm:`). Written after a successful build like tfvars, checked by
 * `bake pin --check`, and read back by `bake prune` and `bake images` as pins.
 */
import type { ParameterStore } from '../aws/ssm-parameters.js';
import { CloudError, RecipeError } from '../errors/index.js';
import type { Recipe } from '../recipes/model.js';
import { AMI_ID, type PinnedValue } from '../tfvars/pinned-values.js';
import type { PinRequest } from './pin.js';

export interface SsmPinResult {
  recipe: string;
  region: string;
  parameter: string;
  /** The value before (undefined: the parameter did not exist). */
  before?: string;
  ami: string;
  changed: boolean;
}

interface SsmPinWrite {
  recipe: string;
  region: string;
  parameter: string;
  ami: string;
}

/** What the requests ask to write, per region; one parameter in one region holds one image. */
export function ssmPinWrites(requests: PinRequest[]): SsmPinWrite[] {
  const writes: SsmPinWrite[] = [];
  for (const { recipe, amis } of requests) {
    for (const target of recipe.ssmPins) {
      for (const region of recipe.regions) {
        const ami = amis[region];
        if (ami === undefined)
          throw new CloudError(
            `${recipe.name}: no AMI in ${region} to pin into SSM parameter ${target.parameter}; build it first`,
          );
        if (!AMI_ID.test(ami))
          throw new CloudError(
            `refusing to pin ${JSON.stringify(ami)} into SSM parameter ${target.parameter}: not an AMI id`,
          );
        const other = writes.find(
          (w) => w.region === region && w.parameter === target.parameter && w.recipe !== recipe.name,
        );
        if (other)
          throw new RecipeError(
            `SSM parameter ${target.parameter} is pinned by both ${other.recipe} and ${recipe.name}`,
            target.location,
          );
        writes.push({ recipe: recipe.name, region, parameter: target.parameter, ami });
      }
    }
  }
  return writes;
}

/** Reads every target first, then (unless `check`) writes only the parameters whose value differs. */
export async function pinSsmParameters(
  requests: PinRequest[],
  store: ParameterStore,
  options: { check: boolean },
): Promise<SsmPinResult[]> {
  const writes = ssmPinWrites(requests);
  const current = await readByRegion(store, writes);
  const results = writes.map((w): SsmPinResult => {
    const before = current.get(w.region)?.get(w.parameter);
    return { ...w, ...(before !== undefined && { before }), changed: before !== w.ami };
  });
  if (!options.check) {
    for (const result of results.filter((r) => r.changed))
      await store.writeImage(result.region, result.parameter, result.ami);
  }
  return results;
}

/** One line per parameter, as `bake pin` prints it. */
export function ssmPinLine(result: SsmPinResult, check: boolean): string {
  const where = `ssm ${result.region} ${result.parameter}`;
  if (!result.changed) return `${where}: up to date (${result.ami})`;
  return `${where}: ${result.before ?? '(none)'} → ${result.ami}${check ? ' (would change)' : ' (pinned)'}`;
}

/**
 * Every AMI id held by the recipes' SSM pin targets → the places naming it (`ssm:REGION:NAME`),
 * for `bake prune` (never delete what a stack reads) and `bake images`.
 */
export async function readSsmPinnedAmis(recipes: Recipe[], store: ParameterStore): Promise<Map<string, string[]>> {
  const targets = recipes.flatMap((recipe) =>
    recipe.ssmPins.flatMap((target) => recipe.regions.map((region) => ({ region, parameter: target.parameter }))),
  );
  const current = await readByRegion(store, targets);
  const pinned = new Map<string, string[]>();
  for (const [region, values] of current) {
    for (const [parameter, value] of values) {
      if (!AMI_ID.test(value)) continue;
      const places = pinned.get(value) ?? [];
      const place = ssmPlace(region, parameter);
      if (!places.includes(place)) places.push(place);
      pinned.set(value, places);
    }
  }
  return pinned;
}

export const ssmPlace = (region: string, parameter: string) => `ssm:${region}:${parameter}`;

async function readByRegion(
  store: ParameterStore,
  targets: Array<{ region: string; parameter: string }>,
): Promise<Map<string, Map<string, string>>> {
  const names = new Map<string, string[]>();
  for (const t of targets) names.set(t.region, [...(names.get(t.region) ?? []), t.parameter]);
  const entries = await Promise.all(
    [...names].map(async ([region, list]) => [region, await store.read(region, list)] as const),
  );
  return new Map(entries);
}

/** What the recipe's SSM targets hold now, per region (for `bake images`). */
export async function readSsmPinValues(recipe: Recipe, store: ParameterStore): Promise<PinnedValue[]> {
  const targets = recipe.ssmPins.flatMap((target) =>
    recipe.regions.map((region) => ({ region, parameter: target.parameter, environment: target.environment })),
  );
  const current = await readByRegion(store, targets);
  return targets.map(({ region, parameter, environment }) => {
    const value = current.get(region)?.get(parameter);
    return {
      place: ssmPlace(region, parameter),
      region,
      ...(value !== undefined && AMI_ID.test(value) && { ami: value }),
      ...(environment !== undefined && { environment }),
    };
  });
}
