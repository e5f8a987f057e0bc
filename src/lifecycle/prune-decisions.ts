/**
 * Which of bake's images `bake prune` may delete, and why each one goes or stays. Pure: the
 * images (as EC2 tags describe them), what tfvars pin, today's fingerprints, the rules and the
 * clock come in; a decision per image comes out.
 *
 * An image is kept when ANY of these holds, and only deleted when none does:
 *   - a tfvars target of any recipe pins it;
 *   - it carries its recipe's current fingerprint (what `bake build` would reuse);
 *   - it is one of the newest `keep` of its recipe in its region (by bake:built-at), which also
 *     protects recipes that are no longer in the bakery;
 * (an image whose launch test failed has neither of those two protections, nor counts among the newest)
 *   - `--older-than` was given and it is younger than that;
 *   - it is still being created, or its build time cannot be read.
 */
import type { ImageRecord } from '../aws/image-record.js';
import { BAKERY_TAG, BUILT_AT_TAG, LAUNCH_TEST_TAG, REVOKED_TAG, isRevoked } from '../tags/tag-contract.js';

export interface PruneRules {
  /** Newest images kept per recipe and region. */
  keep: number;
  /** Only images built longer ago than this may go (ms); undefined: age does not matter. */
  olderThanMs?: number;
  /** As the user wrote it (`30d`), for reasons. */
  olderThanLabel?: string;
  now: Date;
}

export interface PruneFacts {
  /** Images tagged bake:recipe, every region. */
  images: ImageRecord[];
  /** AMI id → the `file:variable` places pinning it (every recipe's pin targets). */
  pinned: Map<string, string[]>;
  /** Recipe → today's fingerprint. */
  current: Map<string, string>;
  /** Names of every recipe in the bakery. */
  bakeryRecipes: Set<string>;
  /** This bakery's name: only images tagged bake:bakery with it may go. */
  bakery?: string;
  /** Only images of these recipes are considered; undefined: all. */
  selected?: Set<string>;
}

export interface PruneDecision {
  imageId: string;
  region: string;
  recipe: string;
  fingerprint: string;
  name: string;
  /** ISO 8601 (bake:built-at, else EC2's CreationDate); '' when neither reads as a time. */
  builtAt: string;
  snapshotIds: string[];
  action: 'keep' | 'delete';
  reasons: string[];
}

function builtAtOf(image: ImageRecord): number | undefined {
  for (const text of [image.tags[BUILT_AT_TAG], image.createdAt]) {
    const time = text ? Date.parse(text) : Number.NaN;
    if (!Number.isNaN(time)) return time;
  }
  return undefined;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function formatAge(ms: number): string {
  if (ms >= DAY_MS) return `${Math.floor(ms / DAY_MS)}d`;
  if (ms >= HOUR_MS) return `${Math.floor(ms / HOUR_MS)}h`;
  return `${Math.max(0, Math.floor(ms / 60_000))}m`;
}

export function decidePrune(facts: PruneFacts, rules: PruneRules): PruneDecision[] {
  const candidates = facts.images.filter((image) => !facts.selected || facts.selected.has(image.recipe));
  const groups = new Map<string, Array<{ image: ImageRecord; time: number | undefined }>>();
  for (const image of candidates) {
    const key = JSON.stringify([image.recipe, image.region]);
    const group = groups.get(key) ?? [];
    group.push({ image, time: builtAtOf(image) });
    groups.set(key, group);
  }

  const decisions: PruneDecision[] = [];
  for (const group of groups.values()) {
    // Newest first; an unreadable time sorts as newest, so that doubt keeps an image.
    group.sort((a, b) => (b.time ?? Infinity) - (a.time ?? Infinity) || a.image.imageId.localeCompare(b.image.imageId));
    let rank = 0;
    group.forEach(({ image, time }) => {
      const keepReasons: string[] = [];
      const deleteReasons: string[] = [];
      const places = facts.pinned.get(image.imageId);
      if (places?.length) keepReasons.push(`pinned in ${places.join(', ')}`);
      // Nothing reuses or pins an image that failed its launch test: it is not one worth keeping.
      const failedLaunchTest = image.tags[LAUNCH_TEST_TAG] === 'failed';
      if (failedLaunchTest) deleteReasons.push('failed its launch test');
      // A revoked image is never current, promoted or rolled back to: once nothing pins it, it goes.
      else if (isRevoked(image.tags)) deleteReasons.push(`revoked at ${image.tags[REVOKED_TAG]}`);
      else {
        const index = rank++;
        if (facts.current.get(image.recipe) === image.fingerprint && image.fingerprint)
          keepReasons.push(`current fingerprint of ${image.recipe}`);
        if (index < rules.keep)
          keepReasons.push(`newest ${rules.keep} of ${image.recipe} in ${image.region} (#${index + 1})`);
        else
          deleteReasons.push(
            `not among the newest ${rules.keep} of ${image.recipe} in ${image.region} (#${index + 1})`,
          );
      }
      if (image.state === 'pending') keepReasons.push('still being created (pending)');
      // Made before bakeries had names: which bakery made it cannot be told, so none deletes it.
      if (image.tags[BAKERY_TAG] === undefined)
        keepReasons.push(
          `no bake:bakery tag (made before bakeries had names); tag it bake:bakery=${facts.bakery ?? '<bakery>'} to let prune manage it`,
        );
      if (time === undefined) keepReasons.push('no readable build time');
      else if (rules.olderThanMs !== undefined) {
        const age = rules.now.getTime() - time;
        const label = rules.olderThanLabel ?? formatAge(rules.olderThanMs);
        if (age <= rules.olderThanMs) keepReasons.push(`built ${formatAge(age)} ago, not older than ${label}`);
        else deleteReasons.push(`built ${formatAge(age)} ago, older than ${label}`);
      }
      if (!facts.bakeryRecipes.has(image.recipe)) {
        (keepReasons.length ? keepReasons : deleteReasons).push(`recipe ${image.recipe} is no longer in the bakery`);
      }
      decisions.push({
        imageId: image.imageId,
        region: image.region,
        recipe: image.recipe,
        fingerprint: image.fingerprint,
        name: image.name,
        builtAt: time === undefined ? '' : new Date(time).toISOString(),
        snapshotIds: image.snapshotIds,
        action: keepReasons.length ? 'keep' : 'delete',
        reasons: keepReasons.length ? keepReasons : deleteReasons,
      });
    });
  }
  return decisions.sort(
    (a, b) =>
      a.recipe.localeCompare(b.recipe) ||
      a.region.localeCompare(b.region) ||
      b.builtAt.localeCompare(a.builtAt) ||
      a.imageId.localeCompare(b.imageId),
  );
}
