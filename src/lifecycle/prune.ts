/**
 * `bake prune`: finds bake's images in every region the bakery names, decides what may go
 * (src/lifecycle/prune-decisions.ts) and, with `apply`, deletes it region by region. What is
 * pinned is read first, from every recipe's tfvars and SSM targets whichever recipes were asked
 * for: a target that cannot be read stops the prune before anything is listed or deleted.
 */
import path from 'node:path';
import type { ImageDeletion, PruneEc2 } from '../aws/prune-images.js';
import { isOwnImage } from '../tags/tag-contract.js';
import { BakeError, TfvarsError } from '../errors/index.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { decidePrune, type PruneDecision } from './prune-decisions.js';

export interface PruneDeps {
  ec2: PruneEc2;
  /** AMI id → `file:variable` places (src/tfvars/pinned-values.ts readPinnedAmis). */
  readPinned(files: string[]): Promise<Map<string, string[]>>;
  /** AMI id → `ssm:REGION:NAME` places of the recipes' SSM pin targets (src/pipeline/pin-ssm.ts). Absent: no SSM pins are read. */
  readSsmPinned?(recipes: Recipe[]): Promise<Map<string, string[]>>;
  /** Recipe → today's fingerprint, for these recipes (src/fingerprint/fingerprint-bakery.ts: no plan, no image listing). */
  currentFingerprints(recipes: Recipe[]): Promise<Map<string, string>>;
  now(): Date;
}

export interface PruneOptions {
  /** Recipes whose images may go; default: every recipe's, and images of recipes no longer in the bakery. */
  recipes?: Recipe[];
  keep: number;
  olderThanMs?: number;
  olderThan?: string;
  apply: boolean;
}

export type PruneStatus = 'kept' | 'would-delete' | 'deleted' | 'failed';

export interface PrunedImage extends PruneDecision {
  status: PruneStatus;
  error?: string;
  snapshotsDeleted?: string[];
  snapshotsKept?: Record<string, string>;
}

export interface PruneReport {
  apply: boolean;
  keep: number;
  olderThan?: string;
  regions: Array<{ region: string; images: number; error?: string }>;
  images: PrunedImage[];
}

/** Every region the bakery names: its defaults and each recipe's. */
export function bakeryRegions(bakery: Bakery): string[] {
  return [...new Set([...bakery.config.regions, ...bakery.recipes.flatMap((r) => r.regions)])];
}

function relativePlace(root: string, place: string): string {
  const relative = path.relative(root, place);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : place;
}

export async function pruneBakery(bakery: Bakery, deps: PruneDeps, options: PruneOptions): Promise<PruneReport> {
  if (!Number.isInteger(options.keep) || options.keep < 0)
    throw new BakeError(`--keep must be a whole number of 0 or more, got ${options.keep}`);
  const pinFiles = bakery.recipes.flatMap((recipe) => recipe.pin.map((target) => target.file));
  let pinned: Map<string, string[]>;
  try {
    pinned = await deps.readPinned(pinFiles);
  } catch (error) {
    if (error instanceof TfvarsError) {
      throw new TfvarsError(
        `${error.message}; bake prune deletes nothing while it cannot tell what is pinned`,
        error.file,
        error.line,
      );
    }
    throw error;
  }
  pinned = new Map([...pinned].map(([ami, places]) => [ami, places.map((place) => relativePlace(bakery.root, place))]));
  // An SSM parameter that cannot be read stops the prune too (a CloudError), before anything is listed.
  for (const [ami, places] of (await deps.readSsmPinned?.(bakery.recipes)) ?? [])
    pinned.set(ami, [...(pinned.get(ami) ?? []), ...places]);

  const listings = await deps.ec2.listImages(bakeryRegions(bakery));
  // Only this bakery's images are candidates: another team's are not even looked at.
  const bakeryRecipes = new Set(bakery.recipes.map((r) => r.name));
  const images = listings
    .flatMap((listing) => listing.images)
    // Exactly this bakery's name: images tagged with its legacy name may be another team's (src/recipes/bakery-name.ts).
    .filter((image) => isOwnImage(image.tags, bakery.config.bakery, bakeryRecipes));
  const selected = options.recipes ? new Set(options.recipes.map((r) => r.name)) : undefined;
  const current = await deps.currentFingerprints(options.recipes ?? bakery.recipes);
  const decisions = decidePrune(
    { images, pinned, current, bakeryRecipes, selected, bakery: bakery.config.bakery },
    { keep: options.keep, olderThanMs: options.olderThanMs, olderThanLabel: options.olderThan, now: deps.now() },
  );

  const outcomes = new Map<string, ImageDeletion>();
  if (options.apply) {
    const perRegion = await Promise.all(
      listings
        .filter((listing) => !listing.error)
        .map((listing) => {
          const doomed = decisions.filter((d) => d.region === listing.region && d.action === 'delete');
          const gone = new Set(doomed.map((d) => d.imageId));
          return doomed.length
            ? deps.ec2.deleteImages(
                listing.region,
                doomed,
                listing.images.filter((i) => !gone.has(i.imageId)),
              )
            : [];
        }),
    );
    for (const outcome of perRegion.flat()) outcomes.set(`${outcome.region}/${outcome.imageId}`, outcome);
  }

  return {
    apply: options.apply,
    keep: options.keep,
    ...(options.olderThan ? { olderThan: options.olderThan } : {}),
    regions: listings.map((l) => ({
      region: l.region,
      images: l.images.length,
      ...(l.error ? { error: l.error } : {}),
    })),
    images: decisions.map((decision): PrunedImage => {
      if (decision.action === 'keep') return { ...decision, status: 'kept' };
      const outcome = outcomes.get(`${decision.region}/${decision.imageId}`);
      if (!outcome) return { ...decision, status: 'would-delete' };
      return {
        ...decision,
        status: outcome.status,
        ...(outcome.error ? { error: outcome.error } : {}),
        snapshotsDeleted: outcome.snapshotsDeleted,
        snapshotsKept: outcome.snapshotsKept,
      };
    }),
  };
}

/** 1 when a region could not be listed or an image could not be deleted. */
export function pruneExitCode(report: PruneReport): number {
  return report.regions.some((r) => r.error) || report.images.some((i) => i.status === 'failed') ? 1 : 0;
}
