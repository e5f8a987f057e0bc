/**
 * `bake scan`: boot each recipe's current image (the newest available image of the recipe in its
 * build region that did not fail, nor still wait for, its launch test), ask its package manager
 * which installed packages have a newer version in the security suite (src/scan/), and record the
 * answer as tags on that image and on its copies in the recipe's other regions (same fingerprint).
 * The image's own SBOM is kept beside the run's logs, where the next build's package diff finds it.
 * With `--env ENV`, the images ENV's pin targets hold instead (tfvars and SSM, read as promote
 * reads them, environment-pins.ts): what is deployed there is what needs the fix.
 */
import type { ImageCatalog, ImageRecord } from '../aws/image-record.js';
import { UsageError } from '../errors/index.js';
import { requireEnvironment } from '../recipes/environments.js';
import type { BakeryConfig, Recipe } from '../recipes/model.js';
import type { ImageScanOutcome, ImageScanRequest, ImageScanResult } from '../scan/scan-image.js';
import { scanRecordOf, scanTags } from '../scan/scan-tags.js';
import { BUILT_AT_TAG, FINGERPRINT_TAG, LAUNCH_TEST_TAG, launchTestBlocksReuse } from '../tags/tag-contract.js';
import type { EnvironmentPins } from './environment-pins.js';

/** How long one image's scan may take, from RunInstances to the last answer. */
export const DEFAULT_SCAN_TIMEOUT_MS = 10 * 60_000;
/** Images booted at once. */
export const DEFAULT_SCAN_CONCURRENCY = 4;

export interface ScanDeps {
  catalog: ImageCatalog;
  scanImage(request: Omit<ImageScanRequest, 'target'>): Promise<ImageScanOutcome>;
  tagImage(region: string, imageId: string, tags: Record<string, string>): Promise<void>;
  /** Keeps the image's SBOM where the next build's package diff looks; returns the file. */
  keepSbom(recipe: string, text: string): Promise<string>;
  log(recipe: string, line: string): Promise<void>;
  now(): Date;
  /** What an environment's pin targets of the recipe hold (for `--env`). */
  environmentPins(recipe: Recipe, environment: string): Promise<EnvironmentPins>;
}

export interface ScanOptions {
  concurrency?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Scan the images this environment's pin targets hold instead of the current ones. */
  environment?: string;
}

/** Which image of a recipe is scanned: one the recipe's current image, or one pinned by an environment. */
export interface ScanTarget {
  recipe: Recipe;
  region: string;
  imageId: string;
  /** Same image in the recipe's other regions (copies with its fingerprint): tagged alike. */
  copies: Array<{ region: string; imageId: string }>;
  /** `--env`: the environment, and the targets pinning the image or its copies (`file:variable[region]`, `ssm:…`). */
  environment?: string;
  pinnedBy?: string[];
}

export interface ScannedImage extends ImageScanResult {
  environment?: string;
  pinned_by?: string[];
  /** Images given the scan's tags (the scanned one and its copies). */
  tagged: string[];
  sbom_file?: string;
  /** The scan's pending stretch started at this time (`bake:scan-pending-since`). */
  pending_since?: string;
}

export interface ScanReport {
  /** `--env`: the environment whose pinned images were scanned. */
  environment?: string;
  interrupted: boolean;
  images: ScannedImage[];
  /** Recipes without an image to scan, and why. */
  skipped: Array<{ recipe: string; reason: string }>;
}

const byNewest = (a: ImageRecord, b: ImageRecord) =>
  a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0;

/** What a scan boots, what it leaves out (and why), and the images read to choose (for earlier scans' tags). */
interface ScanSelection {
  targets: ScanTarget[];
  skipped: ScanReport['skipped'];
  images: ImageRecord[];
}

/** The bakery's images in the recipes' regions, newest first. */
async function imagesOf(recipes: Recipe[], catalog: ImageCatalog): Promise<ImageRecord[]> {
  const regions = [...new Set(recipes.flatMap((r) => r.regions))];
  return regions.length ? (await catalog.listBakedImages(regions)).sort(byNewest) : [];
}

/** The current image of each recipe in its build region, and its copies elsewhere. */
export async function currentScanTargets(recipes: Recipe[], catalog: ImageCatalog): Promise<ScanSelection> {
  const images = await imagesOf(recipes, catalog);
  const targets: ScanTarget[] = [];
  const skipped: ScanReport['skipped'] = [];
  for (const recipe of recipes) {
    const buildRegion = recipe.regions[0]!;
    const usable = (image: ImageRecord) =>
      image.recipe === recipe.name &&
      image.state === 'available' &&
      !launchTestBlocksReuse(image.tags[LAUNCH_TEST_TAG]);
    const current = images.find((image) => image.region === buildRegion && usable(image));
    if (!current) {
      skipped.push({ recipe: recipe.name, reason: `no available image of ${recipe.name} in ${buildRegion}` });
      continue;
    }
    const copies = recipe.regions.slice(1).flatMap((region) => {
      const copy = images.find((i) => i.region === region && usable(i) && i.fingerprint === current.fingerprint);
      return copy ? [{ region, imageId: copy.imageId }] : [];
    });
    targets.push({ recipe, region: buildRegion, imageId: current.imageId, copies });
  }
  return { targets, skipped, images };
}

/** One line for an `--env` the bakery cannot answer: none declared, or not one of them. */
export function checkScanEnvironment(config: BakeryConfig, environment: string): void {
  if (config.environments.length === 0)
    throw new UsageError(
      `--env ${environment}: bake.config.yaml declares no environments; without --env, bake scan scans each recipe's current image`,
    );
  requireEnvironment(config, environment);
}

/** The images `environment`'s targets of each recipe pin, one scan target per build. */
export async function environmentScanTargets(
  recipes: Recipe[],
  environment: string,
  catalog: ImageCatalog,
  pinsOf: (recipe: Recipe) => Promise<EnvironmentPins>,
): Promise<ScanSelection> {
  const images = await imagesOf(recipes, catalog);
  const targets: ScanTarget[] = [];
  const skipped: ScanReport['skipped'] = [];
  for (const recipe of recipes) {
    const skip = (reason: string) => skipped.push({ recipe: recipe.name, reason });
    const { values } = await pinsOf(recipe);
    if (values.length === 0) {
      skip(`no pin target in ${environment}`);
      continue;
    }
    // Region + AMI → the places pinning it (two targets may pin one image).
    const pinned = new Map<string, { region: string; ami: string; places: string[] }>();
    for (const value of values) {
      if (value.ami === undefined) continue;
      const key = `${value.region}\0${value.ami}`;
      const entry = pinned.get(key) ?? { region: value.region, ami: value.ami, places: [] };
      entry.places.push(value.place);
      pinned.set(key, entry);
    }
    if (pinned.size === 0) {
      skip(`its pin targets in ${environment} hold no image`);
      continue;
    }
    // Copies of one build (same fingerprint and build time) are one scan, booted in the earliest region.
    const builds = new Map<string, Array<{ record: ImageRecord; places: string[] }>>();
    for (const { region, ami, places } of pinned.values()) {
      const record = images.find((i) => i.imageId === ami && i.region === region);
      if (!record || record.recipe !== recipe.name || record.state !== 'available') {
        skip(
          `${ami} pinned in ${environment} by ${places.join(', ')} is not an available image of ${recipe.name} in ${region}`,
        );
        continue;
      }
      const build = `${record.tags[FINGERPRINT_TAG]}\0${record.tags[BUILT_AT_TAG]}`;
      builds.set(build, [...(builds.get(build) ?? []), { record, places }]);
    }
    const order = (region: string) => {
      const index = recipe.regions.indexOf(region);
      return index < 0 ? recipe.regions.length : index;
    };
    for (const copies of builds.values()) {
      const [first, ...rest] = copies.sort((a, b) => order(a.record.region) - order(b.record.region));
      targets.push({
        recipe,
        region: first!.record.region,
        imageId: first!.record.imageId,
        copies: rest.map(({ record }) => ({ region: record.region, imageId: record.imageId })),
        environment,
        pinnedBy: copies.flatMap(({ places }) => places),
      });
    }
  }
  return { targets, skipped, images };
}

export async function scanImages(
  targets: ScanTarget[],
  images: ImageRecord[],
  deps: ScanDeps,
  options: ScanOptions = {},
): Promise<Omit<ScanReport, 'skipped'>> {
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_SCAN_CONCURRENCY);
  const previousOf = (imageId: string) => {
    const record = images.find((i) => i.imageId === imageId);
    return record ? scanRecordOf(record.tags) : undefined;
  };
  const results: ScannedImage[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const index = next++;
      const target = targets[index]!;
      const scanned = await scanOne(target, previousOf(target.imageId), deps, options);
      results[index] = {
        ...scanned,
        ...(target.environment !== undefined && { environment: target.environment }),
        ...(target.pinnedBy && { pinned_by: target.pinnedBy }),
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  return { interrupted: Boolean(options.signal?.aborted), images: results };
}

async function scanOne(
  target: ScanTarget,
  previous: ReturnType<typeof scanRecordOf>,
  deps: ScanDeps,
  options: ScanOptions,
): Promise<ScannedImage> {
  const { recipe } = target;
  const log = (line: string) => deps.log(recipe.name, line);
  if (options.signal?.aborted) {
    return {
      ...notScanned(target, deps.now()),
      status: 'interrupted',
      error: 'interrupted before its scan started',
      tagged: [],
    };
  }
  const { result, sbom } = await deps.scanImage({
    recipe: recipe.name,
    sshUsername: recipe.sshUsername,
    subnetId: recipe.subnetId,
    instanceType: recipe.launchTest?.instanceType ?? recipe.instanceType,
    region: target.region,
    imageId: target.imageId,
    timeoutMs: options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS,
    signal: options.signal,
    log,
  });
  const scanned: ScannedImage = { ...result, tagged: [] };
  if (result.status !== 'scanned') return scanned;
  const tags = scanTags(result.scanned_at, result.pending, previous);
  for (const { region, imageId } of [{ region: target.region, imageId: target.imageId }, ...target.copies]) {
    try {
      await deps.tagImage(region, imageId, tags);
      scanned.tagged.push(imageId);
    } catch (error) {
      scanned.status = 'failed';
      scanned.error = `tagging ${imageId} in ${region} failed: ${(error as Error).message.split('\n')[0]}`;
      await log(scanned.error);
    }
  }
  if (tags['bake:scan-pending-since']) scanned.pending_since = tags['bake:scan-pending-since'];
  if (sbom !== undefined) {
    try {
      scanned.sbom_file = await deps.keepSbom(recipe.name, sbom);
    } catch (error) {
      await log(`keeping the image's SBOM failed: ${(error as Error).message}`);
    }
  }
  return scanned;
}

function notScanned(target: ScanTarget, now: Date): ImageScanResult {
  return {
    recipe: target.recipe.name,
    region: target.region,
    image: target.imageId,
    status: 'failed',
    scanned_at: now.toISOString(),
    sources: [],
    warnings: [],
    pending: [],
    duration_s: 0,
    cleanup_problems: [],
  };
}

/** 1 when a scan failed or was interrupted; with --detailed-exitcode 2 when a scanned image has pending fixes. */
export function scanExitCode(report: ScanReport, detailed: boolean): number {
  if (report.interrupted || report.images.some((image) => image.status !== 'scanned')) return 1;
  if (detailed && report.images.some((image) => image.pending.length > 0)) return 2;
  return 0;
}

export function scanLines(report: ScanReport): string[] {
  const lines: string[] = [];
  const where = (image: ScannedImage) =>
    `${image.region}${image.environment !== undefined ? `, pinned in ${image.environment}` : ''}`;
  for (const image of report.images) {
    if (image.status !== 'scanned') {
      lines.push(`${image.recipe}: ${image.image} (${where(image)}) ${image.status}: ${image.error ?? ''}`.trimEnd());
      continue;
    }
    lines.push(
      `${image.recipe}: ${image.image} (${where(image)}) ${image.pending.length ? `${image.pending.length} pending security update(s)` : 'no pending security update'}`,
    );
    for (const p of image.pending)
      lines.push(`  ${p.package} ${p.installed} → ${p.fixed}${p.advisory ? ` (${p.advisory})` : ''}`);
  }
  for (const skip of report.skipped) lines.push(`${skip.recipe}: not scanned: ${skip.reason}`);
  return lines;
}

export function scanJson(report: ScanReport, runId: string) {
  return {
    run_id: runId,
    ...(report.environment !== undefined && { environment: report.environment }),
    interrupted: report.interrupted,
    images: report.images.map((image) => ({
      recipe: image.recipe,
      region: image.region,
      image: image.image,
      status: image.status,
      scanned_at: image.scanned_at,
      ...(image.manager && { manager: image.manager }),
      ...(image.pinned_by && { pinned_by: image.pinned_by }),
      pending_count: image.pending.length,
      ...(image.pending_since && { pending_since: image.pending_since }),
      pending: image.pending.map((p) => ({
        package: p.package,
        installed: p.installed,
        fixed: p.fixed,
        ...(p.advisory && { advisory: p.advisory }),
        ...(p.severity && { severity: p.severity }),
      })),
      sources: image.sources,
      warnings: image.warnings,
      ...(image.sbom_packages !== undefined && { sbom_packages: image.sbom_packages }),
      ...(image.sbom_file && { sbom_file: image.sbom_file }),
      tagged: image.tagged,
      ...(image.instance_id && { instance_id: image.instance_id }),
      ...(image.error && { error: image.error }),
      duration_s: image.duration_s,
      cleanup_problems: image.cleanup_problems,
    })),
    skipped: report.skipped,
  };
}

/** The whole scan of `bake scan RECIPES`: each recipe's current image, `concurrency` at a time. */
export async function scanBakery(recipes: Recipe[], deps: ScanDeps, options: ScanOptions = {}): Promise<ScanReport> {
  const { environment } = options;
  const { targets, skipped, images } =
    environment === undefined
      ? await currentScanTargets(recipes, deps.catalog)
      : await environmentScanTargets(recipes, environment, deps.catalog, (recipe) =>
          deps.environmentPins(recipe, environment),
        );
  for (const skip of skipped) await deps.log(skip.recipe, `not scanned: ${skip.reason}`);
  return {
    ...(environment !== undefined && { environment }),
    ...(await scanImages(targets, images, deps, options)),
    skipped,
  };
}
