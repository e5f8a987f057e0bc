/**
 * After Packer has baked a recipe's image in its build region (the first of `regions`), bake
 * distributes it: copies it to every other region (re-encrypted with that region's KMS key when
 * the recipe names one), tags each copy and its snapshots like the original, grants the
 * recipe's `share_with` launch permissions (revoking those no longer declared), makes it
 * IMDSv2-only when Packer could not, and sets (or clears) its deprecation time — in every region,
 * then tags each image `bake:distribution` with the settings it now has
 * (src/lifecycle/distribution-settings.ts). The EC2 calls sit behind DistributionEc2
 * (src/aws/distribution-ec2.ts, over the SDK in src/aws/image-distribution.ts); the order, the
 * rules and the bookkeeping are here.
 *
 * Regions are independent: one region failing does not stop the others, and the result always
 * says which images exist, so the build can record (and a re-run can reuse) what was done.
 *
 * A speculative distribution (`publishable`) copies an image whose launch test still runs: the
 * copies start at once and carry the image's tags as they are (`bake:launch-test=pending`), while
 * everything that makes an image usable by others — the test's outcome on the copies, sharing,
 * IMDSv2, deprecation, `bake:distribution` — waits until it is published or refused.
 */
import { BuildFailure } from '../errors/index.js';
import type { Recipe } from '../recipes/model.js';
import {
  BUILT_AT_TAG,
  DISTRIBUTION_TAG,
  FINGERPRINT_TAG,
  LAUNCH_TEST_TAG,
  imageRecipeKey,
  isAwsTagKey,
} from '../tags/tag-contract.js';
import { distributionTag } from './distribution-settings.js';
import type { CopyRequest, DistributionEc2 } from '../aws/distribution-ec2.js';
import { sharesWithAnyone } from '../aws/launch-permissions.js';
import { sharePrincipals } from '../recipes/share-principals.js';

export interface DistributionRequest {
  recipe: Recipe;
  /** Region → AMI of the images that exist already: the build region's at least (Packer's manifest, or an earlier run). */
  amis: Record<string, string>;
  /** Tags for the copies. Default: the build region image's own tags (a re-run completing an earlier bake). */
  tags?: Record<string, string>;
  /** When the image was baked (ISO 8601): the deprecation time counts from it. Default: the image's bake:built-at. */
  builtAt?: string;
  /** The build region's image was baked by this run: nobody can have been granted anything on it yet. */
  bakedNow?: boolean;
  now: Date;
  /** Stops waiting for copies (the copies themselves go on in EC2 and are tagged already). */
  signal?: AbortSignal;
  /** One line per step, for the recipe's build log. */
  log?(line: string): void | Promise<void>;
  /**
   * Set when the image may still turn out unusable (its launch test, or one up its chain, runs):
   * resolves with the tags its copies then get (the test's outcome), or rejects, and then nothing
   * is published, the copies still pending stop being waited for, and the DistributionError lists
   * every copy made (for the caller to remove).
   */
  publishable?: Promise<Record<string, string>>;
  /** The image is available in `region` (not the build region): a copy made now, or one there already. Before anything is published. */
  onAvailable?(region: string, imageId: string): void;
}

export interface RegionDistribution {
  region: string;
  /** The image in this region, when there is one (even if a later step failed). */
  imageId?: string;
  /** true when this run copied it here. */
  copied: boolean;
  /** Steps done, in order: copied, tagged, shared, imdsv2, deprecated or undeprecated, settled. */
  done: string[];
  error?: string;
  deprecateAt?: string;
}

export interface DistributionResult {
  /** Region → AMI for every region of the recipe. */
  amis: Record<string, string>;
  regions: RegionDistribution[];
}

/** Some region did not get its image (or its settings): the images that do exist are in `amis`. */
export class DistributionError extends BuildFailure {
  constructor(
    message: string,
    readonly amis: Record<string, string>,
    readonly regions: RegionDistribution[],
  ) {
    super(message);
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * built-at + days; EC2 refuses a time in the past, so an image already older than that (a
 * re-run long after the bake) is deprecated a minute from now instead.
 */
export function deprecationTime(builtAt: string, days: number, now: Date): Date {
  const due = new Date(Date.parse(builtAt) + days * DAY_MS);
  const soonest = new Date(now.getTime() + 60_000);
  return Number.isNaN(due.getTime()) || due < soonest ? soonest : due;
}

/**
 * The tags a copy gets: EC2 refuses `aws:` keys on CreateTags (an image's own tags may hold
 * some), and `bake:distribution` is earned by each image once its own settings are applied.
 */
function copyTags(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([key]) => !isAwsTagKey(key) && key !== DISTRIBUTION_TAG));
}

/** The tags that tell a launch test's outcome, for the log. */
function describeTags(tags: Record<string, string>): string {
  return Object.entries(tags)
    .filter(([key]) => key === LAUNCH_TEST_TAG)
    .map(([key, value]) => `: ${key}=${value}`)
    .join('');
}

function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}

export async function distributeImage(ec2: DistributionEc2, request: DistributionRequest): Promise<DistributionResult> {
  const { recipe } = request;
  const buildRegion = recipe.regions[0];
  const sourceId = request.amis[buildRegion];
  if (!sourceId)
    throw new BuildFailure(
      `${recipe.name} has no image in its build region ${buildRegion} to copy to the other regions`,
    );
  const principals = sharePrincipals(recipe);
  const log = async (line: string) => void (await request.log?.(line));
  // A refusal stops the waits for copies at once: what is pending is the caller's to remove.
  const refused = new AbortController();
  let refusal: unknown;
  request.publishable?.catch((error: unknown) => {
    refusal = error;
    refused.abort(error);
  });
  const signal = request.signal ? AbortSignal.any([request.signal, refused.signal]) : refused.signal;

  const source = await ec2.describeImage(buildRegion, sourceId);
  const tags = copyTags(request.tags ?? source.tags);
  const settled = { [DISTRIBUTION_TAG]: distributionTag(recipe) };
  const builtAt = request.builtAt ?? source.tags[BUILT_AT_TAG] ?? source.createdAt;
  const deprecateAt =
    recipe.deprecateAfterDays === undefined
      ? undefined
      : deprecationTime(builtAt, recipe.deprecateAfterDays, request.now);

  /** Copies into the region; a copy left by an earlier run under the same name is taken over instead of failing on the duplicate name. */
  const copyTo = async (region: string, outcome: RegionDistribution): Promise<string> => {
    const kmsKeyId = recipe.encrypted ? recipe.kmsKeyIds[region] : undefined;
    const copy: CopyRequest = {
      region,
      sourceRegion: buildRegion,
      sourceImageId: sourceId,
      name: source.name,
      description: source.description,
      encrypted: recipe.encrypted,
      kmsKeyId,
      tags,
    };
    const earlier = await ec2.findImageByName(region, source.name);
    if (earlier && earlier.state !== 'failed' && earlier.tags[FINGERPRINT_TAG] === tags[FINGERPRINT_TAG]) {
      await log(`taking over ${earlier.imageId} in ${region}, an earlier copy of ${sourceId} (${earlier.state})`);
      return earlier.imageId;
    }
    if (earlier) {
      // A failed copy keeps its name. Only bake's own failed copy of this recipe is cleared out of the way.
      if (earlier.state !== 'failed' || imageRecipeKey(earlier.tags) !== recipe.name) {
        throw new BuildFailure(
          `cannot copy ${sourceId} to ${region}: the name ${source.name} is taken by ${earlier.imageId} (${earlier.state})`,
        );
      }
      await log(`deregistering ${earlier.imageId} in ${region}: an earlier copy that failed`);
      await ec2.deregister(region, earlier.imageId);
    }
    const imageId = await ec2.copyImage(copy);
    outcome.copied = true;
    outcome.done.push('copied');
    await log(
      `copying ${sourceId} (${buildRegion}) to ${region} as ${imageId}${kmsKeyId ? ` encrypted with ${kmsKeyId}` : recipe.encrypted ? ' encrypted with the default EBS key' : ''}`,
    );
    return imageId;
  };

  const distribute = async (region: string, outcome: RegionDistribution): Promise<void> => {
    let imageId = region === buildRegion ? sourceId : request.amis[region];
    if (!imageId) {
      imageId = await copyTo(region, outcome);
      outcome.imageId = imageId;
      await ec2.waitUntilAvailable(region, imageId, signal);
      await ec2.tagImage(region, imageId, tags);
      outcome.done.push('tagged');
      await log(`tagged ${imageId} in ${region} and its snapshots`);
    }
    outcome.imageId = imageId;
    if (region !== buildRegion) request.onAvailable?.(region, imageId);
    if (request.publishable) {
      const proven = await request.publishable;
      if (region !== buildRegion && !request.amis[region]) {
        await ec2.tagImage(region, imageId, copyTags(proven));
        await log(`tagged ${imageId} in ${region} as its source now is${describeTags(proven)}`);
      }
    }
    const facts = region === buildRegion ? source : await ec2.describeImage(region, imageId);
    const fresh = outcome.copied || (region === buildRegion && Boolean(request.bakedNow));
    if (sharesWithAnyone(principals) || !fresh) {
      await ec2.share(region, imageId, facts.snapshotIds, principals, { exactly: !fresh });
      outcome.done.push('shared');
      const whom = sharesWithAnyone(principals) ? recipe.shareWith.join(', ') : 'nobody';
      await log(`shared ${imageId} in ${region} with ${whom}${fresh ? '' : ' (other permissions revoked)'}`);
    }
    if (recipe.imdsv2 && facts.imdsSupport !== 'v2.0') {
      await ec2.requireImdsV2(region, imageId);
      outcome.done.push('imdsv2');
      await log(`set ImdsSupport=v2.0 on ${imageId} in ${region}`);
    }
    if (deprecateAt) {
      await ec2.deprecate(region, imageId, deprecateAt);
      outcome.done.push('deprecated');
      outcome.deprecateAt = deprecateAt.toISOString();
      await log(`${imageId} in ${region} is deprecated from ${deprecateAt.toISOString()}`);
    } else if (facts.deprecationTime) {
      await ec2.undeprecate(region, imageId);
      outcome.done.push('undeprecated');
      await log(`${imageId} in ${region} is no longer deprecated (deprecate_after_days removed)`);
    }
    await ec2.tagImage(region, imageId, settled);
    outcome.done.push('settled');
  };

  const outcomes: RegionDistribution[] = recipe.regions.map((region) => ({ region, copied: false, done: [] }));
  await Promise.all(
    outcomes.map((outcome) =>
      distribute(outcome.region, outcome).catch(async (error: unknown) => {
        outcome.error = message(error);
        if (refusal === undefined) await log(`${outcome.region}: ${outcome.error}`);
      }),
    ),
  );

  const amis = Object.fromEntries(outcomes.flatMap((o) => (o.imageId ? [[o.region, o.imageId]] : [])));
  const failed = outcomes.filter((o) => o.error);
  if (refusal !== undefined) throw new DistributionError(`not published: ${message(refusal)}`, amis, outcomes);
  if (failed.length) {
    throw new DistributionError(
      `distributing ${sourceId} failed in ${failed.map((o) => `${o.region} (${o.error})`).join('; ')}`,
      amis,
      outcomes,
    );
  }
  return { amis, regions: outcomes };
}
