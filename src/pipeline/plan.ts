/**
 * `bake plan`: for each recipe, is there already an image with today's fingerprint in every
 * region (reuse it), or must it be baked (and why)? EC2 tags are the only record consulted:
 * one listing of bake's images per region, whatever the number of recipes.
 */
import type { ImageCatalog, ImageRecord } from '../aws/image-record.js';
import type { BuildRecords } from '../aws/build-records.js';
import { explainChange } from '../fingerprint/explain.js';
import {
  fingerprintBakery,
  readFingerprintFacts,
  type FingerprintSources,
  type ResolvedBase,
} from '../fingerprint/fingerprint-bakery.js';
import { noHistory, type BakeryHistory } from '../fingerprint/history.js';
import { RecipeGraph } from '../recipes/graph.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { GENERATOR_VERSION } from '../packer/generator-version.js';
import { distributionDrift, distributionTag } from '../lifecycle/distribution-settings.js';
import {
  DISTRIBUTION_TAG,
  INPUTS_TAG,
  LAUNCH_TEST_TAG,
  PARENT_TAG,
  REVOKED_REASON_TAG,
  isRevoked,
  launchTestBlocksReuse,
} from '../tags/tag-contract.js';
import { parseInputsTag } from '../fingerprint/inputs-tag.js';
import { untestedRecordKey } from '../tags/build-record.js';
import { launchTestReason } from './launch-test-step.js';
import { securityFreshness, securityRebuildReason, type SecurityFreshness } from './plan-security.js';

export interface RecipePlan {
  name: string;
  recipe: Recipe;
  action: 'build' | 'reuse';
  reasons: string[];
  fingerprint: string;
  /** The `bake:inputs` tag value: one short digest per kind of input. */
  inputs: string;
  /** Region → AMI with today's fingerprint (every region when reused, those that have one when built). */
  amis: Record<string, string>;
  /** Resolved base of the build region; for a recipe built FROM another, the parent's current AMI there ('' when the parent is rebuilt first). */
  baseAmi: string;
  /** The parent recipe's name, when built FROM another recipe. */
  parent?: string;
  /** Regions without an image of today's fingerprint. */
  missingRegions: string[];
  /** Regions whose image of today's fingerprint has not been given the recipe's sharing, IMDSv2 and deprecation settings. */
  unsettledRegions: string[];
  /**
   * Today's image is in the build region; other regions lack it or its settings: the build copies
   * it there and (re-)applies the settings instead of baking.
   */
  distributeOnly?: { region: string; ami: string };
  /**
   * How long the recipe's last bake ran until its image was created (seconds from its
   * bake:built-at to the image's CreationDate, build region): the build starts the longest chains first.
   */
  lastBakeSeconds?: number;
  /** Security freshness (issue 24): what the plan knows of the current image's latest scan, when the recipe plans from it. */
  security?: SecurityFreshness;
  /** The current images a security rebuild replaces: the build does not take them for "baked meanwhile" (same fingerprint). */
  replaces?: string[];
  /**
   * Images tagged with today's fingerprint that bake has no build record of, newer than the
   * recorded one (src/tags/build-record.ts): a copy someone tagged, never used. Said loudly.
   */
  warnings?: string[];
  /**
   * Today's image exists in the build region, baked with `--launch-test later` (tagged `pending`,
   * its untested record naming it): the build runs its launch test instead of baking again.
   */
  awaitingLaunchTest?: { region: string; ami: string; parentAmi?: string };
  /**
   * With `--parent-untested`: the parent's image this recipe bakes on while that image still
   * awaits its launch test in another job. The build watches its `bake:launch-test` tag.
   */
  untestedParent?: { recipe: string; fingerprint: string; region: string; ami: string };
}

export interface Plan {
  /** In DAG order, parents first. */
  recipes: RecipePlan[];
  /**
   * A newest image of some recipe was made by another version of bake's template generator: the
   * generated templates changed with an upgrade of bake, and every recipe rebuilds.
   */
  generatorChanged?: boolean;
}

export type { ResolvedBase };

/** What fingerprints need (content ids, base images: src/fingerprint/fingerprint-bakery.ts), and bake's images. */
export interface PlanDeps extends FingerprintSources {
  catalog: ImageCatalog;
  /** What bake vouches for: only an image a build record names is reused (src/aws/build-records.ts). */
  records: Pick<BuildRecords, 'read'>;
  /** The bakery at older commits, for naming the files that changed. Default: none (reasons by component). */
  history?: BakeryHistory;
  /** Default: GENERATOR_VERSION. */
  generatorVersion?: string;
  /** The clock a scan's age is measured by. Default: the system's. */
  now?: () => Date;
}

/** PlanDeps made on demand (src/pipeline/plan-deps.ts): a plan of nothing touches neither git nor EC2. */
export type PlanDepsSource = PlanDeps | (() => Promise<PlanDeps>);

export interface PlanOptions {
  /** Build the asked recipes even when an image with their fingerprint exists. */
  force?: boolean;
  /**
   * A parent whose image awaits its launch test (another job runs it) is a base as it is: the
   * child bakes on it and the build watches its test, instead of testing it in this run.
   */
  parentUntested?: boolean;
}

const byNewest = (a: ImageRecord, b: ImageRecord) =>
  a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0;

export async function planBakery(
  bakery: Bakery,
  recipes: Recipe[],
  edges: PlanDepsSource,
  options: PlanOptions = {},
): Promise<Plan> {
  // Nothing asked (`--changed-since` found no change): no git, no EC2.
  if (recipes.length === 0) return { recipes: [] };
  const deps = typeof edges === 'function' ? await edges() : edges;
  const all = RecipeGraph.of(bakery.recipes).withAncestors(recipes);
  const asked = new Set(recipes.map((r) => r.name));
  const generator = deps.generatorVersion ?? GENERATOR_VERSION;
  const history = deps.history ?? noHistory(bakery.root);
  const now = (deps.now ?? (() => new Date()))();

  const regions = [...new Set(all.flatMap((r) => r.regions))];
  // Independent of each other: content ids (git), base images and bake's images (EC2).
  const [facts, images] = await Promise.all([
    readFingerprintFacts(bakery, recipes, deps, generator),
    regions.length > 0 ? deps.catalog.listBakedImages(regions) : Promise.resolve([] as ImageRecord[]),
  ]);
  const planned = fingerprintBakery(bakery, recipes, facts);
  const records = await deps.records.read(
    all.map((r) => ({ recipe: r.name, fingerprint: planned.get(r.name)!.fingerprint.value, regions: r.regions })),
  );

  const untested = await untestedRecords(deps, all, planned, images);

  const imagesOf = new Map<string, ImageRecord[]>();
  for (const image of images) {
    const list = imagesOf.get(image.recipe) ?? [];
    list.push(image);
    imagesOf.set(image.recipe, list);
  }

  const decided = new Map<string, RecipePlan>();
  let generatorChanged = false;
  for (const recipe of all) {
    const { inputs, fingerprint, base } = planned.get(recipe.name)!;
    const mine = (imagesOf.get(recipe.name) ?? []).sort(byNewest);
    const amis: Record<string, string> = {};
    const drift = new Map<string, string>();
    const wantedDistribution = distributionTag(recipe);
    const recorded = records.get(recipe.name) ?? {};
    const unrecorded = new Map<string, ImageRecord>();
    const warnings: string[] = [];
    for (const region of recipe.regions) {
      // An image whose launch test failed (or never finished) is not today's image: it is baked again.
      const claimants = mine.filter(
        (i) =>
          i.region === region &&
          i.fingerprint === fingerprint.value &&
          i.state === 'available' &&
          !launchTestBlocksReuse(i.tags[LAUNCH_TEST_TAG]) &&
          !isRevoked(i.tags),
      );
      // Tags are only a claim: the image must be the one bake recorded when it built or copied it.
      const image = claimants.find((i) => i.imageId === recorded[region]?.imageId);
      const forged = claimants.filter((i) => i !== image && (!image || i.createdAt > image.createdAt));
      if (image && forged.length)
        warnings.push(unrecordedClaimWarning(recipe.name, region, fingerprint.value, forged, image.imageId));
      if (!image) {
        if (forged[0]) unrecorded.set(region, forged[0]);
        continue;
      }
      amis[region] = image.imageId;
      const why = distributionDrift(image.tags[DISTRIBUTION_TAG], wantedDistribution);
      if (why) drift.set(region, why);
    }
    const missingRegions = recipe.regions.filter((region) => !(region in amis));
    const unsettledRegions = [...drift.keys()];
    const parentName = recipe.base.kind === 'recipe' ? recipe.base.recipe : undefined;
    const parentPlan = parentName ? decided.get(parentName) : undefined;
    // --parent-untested: a parent image awaiting its launch test where this recipe bakes is its base as it is.
    const parentAwaiting =
      options.parentUntested && parentPlan?.awaitingLaunchTest?.region === recipe.regions[0]
        ? parentPlan.awaitingLaunchTest
        : undefined;
    // A parent that is only distributed keeps its image in the build region: the child builds on it as it is.
    const parentRebuilt = parentPlan?.action === 'build' && !parentPlan.distributeOnly && !parentAwaiting;
    const forced = Boolean(options.force) && asked.has(recipe.name);
    const candidate = forced ? undefined : awaitingImage(mine, recipe.regions[0], fingerprint.value, untested);
    // Built on the parent image of this plan (or, with --parent-untested, on one another job tests): else baked again.
    const builtOnParent =
      !parentName ||
      options.parentUntested ||
      candidate?.parentAmi === (parentPlan?.awaitingLaunchTest?.ami ?? parentPlan?.amis[recipe.regions[0]]);
    const awaiting = candidate && builtOnParent ? candidate : undefined;
    const reasons: string[] = [];
    if (forced) reasons.push('--force');
    const lastBakeSeconds = bakeSecondsOf(mine.find((i) => i.region === recipe.regions[0]));
    if (missingRegions.length > 0) {
      const newest = mine.find((i) => i.region === recipe.regions[0]) ?? mine[0];
      if (!newest) reasons.push('no previous image');
      else if (missingRegions.length < recipe.regions.length) {
        for (const region of missingRegions) {
          const claimant = unrecorded.get(region);
          reasons.push(claimant ? notRecordedReason(claimant) : `new region ${region}`);
        }
      } else if (unrecorded.has(recipe.regions[0])) {
        reasons.push(notRecordedReason(unrecorded.get(recipe.regions[0])!));
      } else if (awaiting) {
        reasons.push(`image ${awaiting.ami} with this fingerprint awaits its launch test: testing it (no new bake)`);
      } else if (newest.fingerprint === fingerprint.value) {
        reasons.push(
          revokedReason(newest) ??
            launchTestReason(newest.imageId, newest.tags[LAUNCH_TEST_TAG]) ??
            `image ${newest.imageId} with this fingerprint is ${newest.state}, not available`,
        );
      } else {
        const builtWith = parseInputsTag(newest.tags[INPUTS_TAG])?.generator;
        if (builtWith !== undefined && builtWith !== fingerprint.digests.generator) generatorChanged = true;
        reasons.push(
          ...(await explainChange({
            bakery,
            recipe,
            inputs,
            fingerprint,
            previous: newest,
            history,
            parentRebuilt,
            baseName: base.name,
          })),
        );
      }
    }
    // A new region, a copy that failed last time, or new sharing settings: the image itself is there, distributing it is enough.
    const buildRegionAmi = amis[recipe.regions[0]];
    const distributeOnly =
      !forced && (missingRegions.length > 0 || unsettledRegions.length > 0) && buildRegionAmi
        ? { region: recipe.regions[0], ami: buildRegionAmi }
        : undefined;
    if (distributeOnly && missingRegions.length) {
      reasons.push(
        `copy ${distributeOnly.ami} from ${distributeOnly.region} to ${missingRegions.join(', ')} (no new bake)`,
      );
    }
    if (distributeOnly) {
      for (const [region, why] of drift)
        reasons.push(`${why} on ${amis[region]} in ${region}: applying them (no new bake)`);
    }
    let action: RecipePlan['action'] =
      forced || missingRegions.length > 0 || unsettledRegions.length > 0 ? 'build' : 'reuse';
    // Security freshness: same fingerprint, new bake (src/pipeline/plan-security.ts).
    const current = buildRegionAmi ? mine.find((image) => image.imageId === buildRegionAmi) : undefined;
    const security = securityFreshness(recipe, current, bakery.config, now);
    const securityReason =
      action === 'build' && !distributeOnly ? undefined : securityRebuildReason(security, parentPlan, parentName);
    let plannedDistribution = distributeOnly;
    if (securityReason) {
      reasons.push(securityReason);
      action = 'build';
      plannedDistribution = undefined;
    }
    decided.set(recipe.name, {
      name: recipe.name,
      recipe,
      action,
      reasons,
      fingerprint: fingerprint.value,
      inputs: fingerprint.inputs,
      amis,
      baseAmi: parentName
        ? parentRebuilt
          ? ''
          : (parentAwaiting?.ami ?? parentPlan?.amis[recipe.regions[0]] ?? '')
        : base.imageId,
      parent: parentName,
      missingRegions,
      unsettledRegions,
      ...(plannedDistribution && { distributeOnly: plannedDistribution }),
      ...(lastBakeSeconds !== undefined && { lastBakeSeconds }),
      ...(security && { security }),
      ...(securityReason && { replaces: Object.values(amis) }),
      ...(warnings.length && { warnings }),
      ...(awaiting && missingRegions.length === recipe.regions.length && { awaitingLaunchTest: awaiting }),
    });
  }

  // An ancestor nobody asked for is listed only when an asked recipe is rebuilt on top of it and it must be baked first.
  const neededBy = new Map<string, string[]>();
  for (const name of asked) {
    const entry = decided.get(name);
    if (!entry || entry.action !== 'build') continue;
    for (let p = entry.parent; p && !asked.has(p); p = decided.get(p)?.parent) {
      const ancestor = decided.get(p);
      if (ancestor?.action !== 'build' || ancestor.distributeOnly) break;
      // --parent-untested: the parents are other jobs' (CI's branches); this run never bakes them.
      if (options.parentUntested) break;
      neededBy.set(p, [...(neededBy.get(p) ?? []), name]);
    }
  }
  const inRun = new Set(all.filter((r) => asked.has(r.name) || neededBy.has(r.name)).map((r) => r.name));
  const listed = all
    .filter((r) => inRun.has(r.name))
    .map((r) => {
      const entry = decided.get(r.name)!;
      const needers = neededBy.get(r.name);
      return needers ? { ...entry, reasons: [`needed by ${needers.join(', ')}`, ...entry.reasons] } : entry;
    })
    .map((entry) => withUntestedParent(entry, decided, inRun, options));
  return { recipes: listed, ...(generatorChanged && { generatorChanged }) };
}

/** Region → AMI of today's fingerprint, per recipe: what build reuses and pin writes. */
export function currentImages(plan: Plan): Map<string, Record<string, string>> {
  return new Map(plan.recipes.map((entry) => [entry.name, { ...entry.amis }]));
}

/**
 * The untested records (src/tags/build-record.ts untestedRecordKey) of the recipes with an image
 * of today's fingerprint tagged `pending` in their build region: recipe → the image id recorded.
 * Read only when there is such an image, so a plan with none asks for nothing more.
 */
async function untestedRecords(
  deps: PlanDeps,
  recipes: Recipe[],
  planned: Map<string, { fingerprint: { value: string } }>,
  images: ImageRecord[],
): Promise<Map<string, string>> {
  const queries = recipes
    .filter((recipe) =>
      images.some(
        (i) =>
          i.recipe === recipe.name &&
          i.region === recipe.regions[0] &&
          i.fingerprint === planned.get(recipe.name)!.fingerprint.value &&
          i.tags[LAUNCH_TEST_TAG] === 'pending',
      ),
    )
    .map((recipe) => ({
      recipe: recipe.name,
      fingerprint: untestedRecordKey(planned.get(recipe.name)!.fingerprint.value),
      regions: [recipe.regions[0]],
    }));
  if (!queries.length) return new Map();
  const found = await deps.records.read(queries);
  const recorded = new Map<string, string>();
  for (const query of queries) {
    const record = found.get(query.recipe)?.[query.regions[0]];
    if (record) recorded.set(query.recipe, record.imageId);
  }
  return recorded;
}

/**
 * The newest image of today's fingerprint in the build region when it awaits its launch test:
 * tagged `pending` and named by the recipe's untested record (the tag alone is only a claim).
 */
function awaitingImage(
  newestFirst: ImageRecord[],
  region: string,
  fingerprint: string,
  untested: Map<string, string>,
): { region: string; ami: string; parentAmi?: string } | undefined {
  const newest = newestFirst.find((i) => i.region === region && i.fingerprint === fingerprint);
  if (!newest || newest.state !== 'available' || newest.tags[LAUNCH_TEST_TAG] !== 'pending' || isRevoked(newest.tags))
    return undefined;
  if (untested.get(newest.recipe) !== newest.imageId) return undefined;
  const parentAmi = newest.tags[PARENT_TAG];
  return { region, ami: newest.imageId, ...(parentAmi && { parentAmi }) };
}

/** A listed recipe whose parent awaits its launch test in another job (not in this run): it watches that image. */
function withUntestedParent(
  entry: RecipePlan,
  decided: Map<string, RecipePlan>,
  inRun: Set<string>,
  options: PlanOptions,
): RecipePlan {
  if (!options.parentUntested || !entry.parent || inRun.has(entry.parent)) return entry;
  const parent = decided.get(entry.parent);
  const region = entry.recipe.regions[0];
  if (!parent) return entry;
  // An image awaiting its test watches the very image it was built on (which may have failed since).
  const own = entry.awaitingLaunchTest;
  const ami = own
    ? own.parentAmi
    : parent.awaitingLaunchTest?.region === region
      ? parent.awaitingLaunchTest.ami
      : undefined;
  if (!ami || (own && parent.action === 'reuse' && parent.amis[region] === ami)) return entry;
  return { ...entry, untestedParent: { recipe: parent.name, fingerprint: parent.fingerprint, region, ami } };
}

/** Seconds from a bake's start (bake:built-at) to its image's creation; undefined when either is missing. */
function bakeSecondsOf(image: ImageRecord | undefined): number | undefined {
  if (!image) return undefined;
  const seconds = (Date.parse(image.createdAt) - Date.parse(image.tags['bake:built-at'] ?? '')) / 1000;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/** A revoked image of today's fingerprint is baked again; the plan says why it was revoked. */
function revokedReason(image: ImageRecord): string | undefined {
  if (!isRevoked(image.tags)) return undefined;
  const why = image.tags[REVOKED_REASON_TAG];
  return `image ${image.imageId} was revoked${why ? `: ${why}` : ''}`;
}

/** Why a tagged image of today's fingerprint is not reused: bake has no build record of it. */
function notRecordedReason(image: ImageRecord): string {
  return (
    `image ${image.imageId} in ${image.region} is tagged with this fingerprint but bake has no build record of it ` +
    `(tags alone can be copied onto any image): baking again`
  );
}

function unrecordedClaimWarning(
  recipe: string,
  region: string,
  fingerprint: string,
  claimants: ImageRecord[],
  recordedId: string,
): string {
  const ids = claimants.map((i) => i.imageId).join(', ');
  return (
    `${recipe}: ${ids} in ${region} also claim${claimants.length === 1 ? 's' : ''} fingerprint ${fingerprint} ` +
    `but bake has no build record of ${claimants.length === 1 ? 'it' : 'them'}: using the recorded ${recordedId}`
  );
}

/** Every warning of the plan, one line each, for stderr. */
export function planWarnings(plan: Plan): string[] {
  return plan.recipes.flatMap((entry) => entry.warnings ?? []);
}
