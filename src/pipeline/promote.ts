/**
 * `bake promote [recipes…] --to ENV`: pin into ENV's targets exactly the AMI ids the previous
 * environment's targets hold (what is deployed there is the truth, not bake's newest image),
 * once each image passes the gates (src/lifecycle/promotion-gates.ts). A refused recipe is one
 * line naming the gate; the others are promoted. The promotion is recorded on the images.
 */
import { imageRefusal, gateRefusal } from '../lifecycle/promotion-gates.js';
import { hasPinTargets, previousEnvironment, recipeInEnvironment } from '../recipes/environments.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { promotedTag, promotedValue } from '../tags/tag-contract.js';
import {
  disagreementError,
  pinIntoEnvironment,
  readEnvironmentPins,
  type EnvironmentDeps,
} from './environment-pins.js';
import type { PinFileResult } from './pin.js';
import { unvouchedRefusal, vouchedImages } from './vouched-images.js';
import type { SsmPinResult } from './pin-ssm.js';

export interface PromoteOptions {
  to: string;
  check: boolean;
  approvedBy?: string;
}

export interface RecipePromotion {
  recipe: string;
  /** promoted (written), would-promote (--check), up-to-date, refused. */
  status: 'promoted' | 'would-promote' | 'up-to-date' | 'refused';
  /** Region → the AMI id the previous environment pins. */
  amis: Record<string, string>;
  /** Region → what ENV pinned before. */
  before: Record<string, string>;
  refusal?: string;
  files: PinFileResult[];
  parameters: SsmPinResult[];
}

export interface PromotionReport {
  from: string;
  to: string;
  recipes: RecipePromotion[];
}

export async function promote(
  bakery: Bakery,
  recipes: Recipe[],
  options: PromoteOptions,
  deps: EnvironmentDeps,
): Promise<PromotionReport> {
  const from = previousEnvironment(bakery.config, options.to);
  const gates = bakery.config.promotion[options.to] ?? { soakMs: 0, approval: false };
  const report: PromotionReport = { from, to: options.to, recipes: [] };
  for (const recipe of recipes.filter((r) => hasPinTargets(recipeInEnvironment(r, options.to)))) {
    report.recipes.push(await promoteRecipe(bakery, recipe, from, options, gates, deps));
  }
  return report;
}

async function promoteRecipe(
  bakery: Bakery,
  recipe: Recipe,
  from: string,
  options: PromoteOptions,
  gates: { soakMs: number; approval: boolean },
  deps: EnvironmentDeps,
): Promise<RecipePromotion> {
  const to = options.to;
  const [source, target] = await Promise.all([
    readEnvironmentPins(bakery, recipe, from, deps.store),
    readEnvironmentPins(bakery, recipe, to, deps.store),
  ]);
  const result: RecipePromotion = {
    recipe: recipe.name,
    status: 'refused',
    amis: {},
    before: target.amis,
    files: [],
    parameters: [],
  };
  const refuse = (why: string) => ({ ...result, refusal: `${recipe.name}: not promoted to ${to}: ${why}` });
  if (Object.keys(source.disagree).length) return refuse(disagreementError(recipe.name, from, source).message);
  const needed = [...new Set(target.values.map((v) => v.region))];
  const missing = needed.filter((region) => source.amis[region] === undefined);
  if (missing.length) return refuse(`${from} pins nothing for ${missing.join(', ')}`);
  const amis = Object.fromEntries(needed.map((region) => [region, source.amis[region]]));
  result.amis = amis;
  if (target.values.every((v) => v.ami === amis[v.region])) return { ...result, status: 'up-to-date' };

  const now = deps.now();
  for (const region of needed) {
    const [image] = await deps.ec2.describeImages(region, [amis[region]]);
    const why =
      imageRefusal(amis[region], region, image, recipe, now) ??
      ((await vouchedImages(deps.records, recipe.name, [image!])).has(amis[region])
        ? undefined
        : unvouchedRefusal(amis[region], region)) ??
      gateRefusal(amis[region], region, image!, from, to, gates, options.approvedBy, now);
    if (why) return refuse(why);
  }
  // Regions the recipe has but ENV's targets do not pin (a `key:` target) keep the previous environment's id.
  const request = { recipe, amis: { ...source.amis, ...amis } };
  const pinned = await pinIntoEnvironment(bakery, [request], to, deps, options.check);
  if (!options.check) {
    const record = { [promotedTag(to)]: promotedValue(now, options.approvedBy?.trim()) };
    for (const region of needed) await deps.ec2.tagImage(region, amis[region], record);
  }
  return { ...result, status: options.check ? 'would-promote' : 'promoted', ...pinned };
}
