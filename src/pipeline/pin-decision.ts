/**
 * What gets pinned, decided in one place: after `bake build`, the images of a fully successful,
 * uninterrupted run (or why nothing is pinned); for `bake pin`, the images of each recipe's
 * current fingerprint. tfvars and SSM pins only ever name images from a run that went through.
 */
import { BakeError, CloudError } from '../errors/index.js';
import { hasPinTargets, recipeInEnvironment } from '../recipes/environments.js';
import type { Recipe } from '../recipes/model.js';
import type { BuildReport, RecipeBuildResult } from './build-report.js';
import type { BuildRun } from './build-run.js';
import type { PinRequest } from './pin.js';
import type { Plan } from './plan.js';

/** `environment`: the first of the bakery's environments, the only one a build pins (none declared: every target). */
export type PinDecision = { skip: string } | { requests: PinRequest[]; environment?: string };

/** After a build: the reason nothing is pinned, or each recipe with a pin target and its images. */
export function decidePin(
  results: RecipeBuildResult[],
  recipeOf: (name: string) => Recipe,
  run: { interrupted: boolean; pin?: boolean; distribute?: boolean; environment?: string },
): PinDecision {
  if (run.interrupted) return { skip: 'run interrupted' };
  if (results.length === 0) return { skip: 'no recipe to build' };
  if (results.some((r) => r.status !== 'built' && r.status !== 'reused')) return { skip: 'a recipe failed' };
  if (run.pin === false) return { skip: '--no-pin' };
  if (run.distribute === false) return { skip: '--no-distribute' };
  const requests = results
    .map((result) => ({ recipe: recipeInEnvironment(recipeOf(result.name), run.environment), amis: result.amis }))
    .filter((request) => hasPinTargets(request.recipe));
  if (!requests.length)
    return {
      skip: run.environment ? `no recipe names a pin target in ${run.environment}` : 'no recipe names a pin target',
    };
  return { requests, ...(run.environment !== undefined && { environment: run.environment }) };
}

/** The pin step of a build: writes the decided pins (tfvars, then SSM); a failure is the report's, not a crash. */
export async function pinAfterBuild(run: BuildRun, decision: PinDecision): Promise<BuildReport['pin']> {
  if ('skip' in decision) return { status: 'skipped', reason: decision.skip };
  const { requests } = decision;
  try {
    const files = await run.deps.pin(requests.filter((r) => r.recipe.pin.length > 0));
    const ssm = requests.filter((r) => r.recipe.ssmPins.length > 0);
    const parameters = run.deps.pinParameters && ssm.length ? await run.deps.pinParameters(ssm) : undefined;
    if (decision.environment !== undefined) await run.deps.recordPins?.(decision.environment, requests);
    const where = decision.environment === undefined ? '' : ` in ${decision.environment}`;
    run.progress.note(`pinned ${requests.map((r) => r.recipe.name).join(', ')}${where}`);
    return { status: 'pinned', files, ...(parameters && { parameters }) };
  } catch (error) {
    return { status: 'failed', reason: error instanceof BakeError ? error.toLine() : (error as Error).message };
  }
}

/**
 * `bake pin`: only images of the recipe's CURRENT fingerprint are pinned: an older image is never
 * written back. (An image whose sharing is still to be applied has its final id already: it is pinned.)
 */
/** A tagged image plan refused for want of a build record: pin says so rather than "none". */
function unrecordedOf(entry: Plan['recipes'][number]): string {
  const why = entry.reasons.filter((reason) => reason.includes('no build record'));
  return why.length ? `; ${why.join('; ')}` : '';
}

export function imagesToPin(plan: Plan, asked: Set<string>): PinRequest[] {
  const notBuilt = plan.recipes.filter((r) => asked.has(r.name) && r.missingRegions.length > 0);
  if (notBuilt.length)
    throw new CloudError(
      `no image with the current fingerprint for ${notBuilt.map((r) => `${r.name} (${r.missingRegions.join(', ') || 'all regions'}${unrecordedOf(r)})`).join(', ')}: run bake build first`,
    );
  return plan.recipes.filter((r) => asked.has(r.name)).map((r) => ({ recipe: r.recipe, amis: r.amis }));
}
