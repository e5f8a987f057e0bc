/**
 * `bake images`: what exists for each recipe and region, what pins it, and what needs a
 * person's attention. Pure: the listing, the pin targets' values, which pinned ids still exist
 * and the clock come in; the inventory goes out.
 */
import type { ImageRecord } from '../aws/image-record.js';
import { distributionTag } from '../lifecycle/distribution-settings.js';
import type { PinnedValue } from '../tfvars/pinned-values.js';
import type { Recipe } from '../recipes/model.js';
import { scanRecordOf, type ScanRecord } from '../scan/scan-tags.js';
import {
  BUILT_AT_TAG,
  DISTRIBUTION_TAG,
  LAUNCH_TEST_TAG,
  REVOKED_BY_TAG,
  REVOKED_REASON_TAG,
  REVOKED_TAG,
  isRevoked,
  launchTestBlocksReuse,
  parsePromotedValue,
  pinnedTag,
  promotedTag,
} from '../tags/tag-contract.js';

export interface InventoryImage {
  imageId: string;
  region: string;
  fingerprint: string;
  /** Has the recipe's fingerprint of today (and did not fail, nor still wait for, its launch test). */
  current: boolean;
  state: string;
  builtAt: string;
  ageDays: number;
  deprecationTime?: string;
  /** `bake:launch-test` (pending | passed | failed), when the image was launch-tested. */
  launchTest?: string;
  /** Who may launch it, as far as bake's `bake:distribution` tag confirms. */
  sharing: string;
  /** The pin targets naming it. */
  pinnedBy: string[];
  /** Its latest security scan (`bake:scan-*` tags), when scanned. */
  scan?: ScanRecord;
  /** Per environment whose targets pin it now: since when (its `bake:pinned:<env>`, the first pin there). */
  environments: Array<{ environment: string; since?: string }>;
  /** Environment → when it was promoted there and who approved (`bake:promoted:<env>`, `bake:approved:<env>`). */
  promotions: Array<{ environment: string; at: string; approvedBy?: string }>;
  /** `bake revoke`: when, who, why. */
  revoked?: { at: string; by?: string; reason?: string };
}

export interface InventoryRegion {
  region: string;
  /** The image of today's fingerprint, when built. */
  current?: string;
  /** Newest first. */
  images: InventoryImage[];
}

export interface InventoryRecipe {
  name: string;
  fingerprint: string;
  regions: InventoryRegion[];
}

export type AttentionKind = 'broken-pin' | 'not-pinned' | 'stale-pin' | 'revoked-pin' | 'pending-fixes';

export interface Attention {
  kind: AttentionKind;
  recipe: string;
  region: string;
  place: string;
  ami?: string;
  message: string;
  /** pending-fixes: pending longer than --max-pending-age. */
  overdue?: boolean;
}

export interface Inventory {
  recipes: InventoryRecipe[];
  attention: Attention[];
}

export interface InventoryInput {
  /** The recipes asked for, each with today's fingerprint and region → image of that fingerprint (the plan). */
  entries: Array<{ recipe: Recipe; fingerprint: string; amis: Record<string, string> }>;
  /** bake's images (every recipe, every region asked). */
  images: ImageRecord[];
  /** Recipe name → what its tfvars and SSM targets hold now. */
  pins: Map<string, PinnedValue[]>;
  /** Pinned ids found to exist (in bake's listing or by a direct lookup). */
  existing: Set<string>;
  now: Date;
  /** `--max-pending-age`: a pinned image whose security fixes have been pending longer than this is `overdue`. */
  maxPendingAgeMs?: number;
  /** bake.config.yaml `environments:`; pins of a later environment are not expected to name the current image. */
  environments?: string[];
}

const DAY_MS = 86_400_000;

function sharingOf(recipe: Recipe, tag: string | undefined): string {
  if (tag === undefined) return 'unconfirmed';
  if (tag === distributionTag(recipe)) return recipe.shareWith.length ? recipe.shareWith.join(', ') : 'private';
  const share = /(?:^|,)share=([^,]*)/.exec(tag)?.[1];
  return share === 'none' ? 'private' : `other principals (${share ?? tag})`;
}

export function imageInventory(input: InventoryInput): Inventory {
  const attention: Attention[] = [];
  const byId = new Map(input.images.map((i) => [i.imageId, i]));
  const recipes = input.entries.map(({ recipe, fingerprint, amis }): InventoryRecipe => {
    const pins = input.pins.get(recipe.name) ?? [];
    const regions = recipe.regions.map((region): InventoryRegion => {
      const images = input.images
        .filter((i) => i.recipe === recipe.name && i.region === region)
        .map((i): InventoryImage => {
          const builtAt = i.tags[BUILT_AT_TAG] || i.createdAt;
          const built = Date.parse(builtAt);
          return {
            imageId: i.imageId,
            region,
            fingerprint: i.fingerprint,
            current:
              i.fingerprint === fingerprint && !launchTestBlocksReuse(i.tags[LAUNCH_TEST_TAG]) && !isRevoked(i.tags),
            state: i.state,
            builtAt,
            ageDays: Number.isNaN(built) ? 0 : Math.max(0, Math.floor((input.now.getTime() - built) / DAY_MS)),
            ...(i.deprecationTime && { deprecationTime: i.deprecationTime }),
            ...(i.tags[LAUNCH_TEST_TAG] && { launchTest: i.tags[LAUNCH_TEST_TAG] }),
            sharing: sharingOf(recipe, i.tags[DISTRIBUTION_TAG]),
            pinnedBy: pins.filter((p) => p.ami === i.imageId).map((p) => p.place),
            ...(scanRecordOf(i.tags) && { scan: scanRecordOf(i.tags) }),
            ...environmentsOf(i, pins, input.environments ?? []),
          };
        })
        .sort((a, b) => (a.builtAt < b.builtAt ? 1 : a.builtAt > b.builtAt ? -1 : 0));
      return { region, ...(amis[region] && { current: amis[region] }), images };
    });
    for (const pin of pins) {
      const current = amis[pin.region];
      const base = { recipe: recipe.name, region: pin.region, place: pin.place };
      if (pin.ami === undefined) {
        if (current)
          attention.push({
            ...base,
            kind: 'not-pinned',
            message: `current image ${current} is not pinned in ${pin.place} yet (bake pin)`,
          });
        continue;
      }
      const revoked = byId.get(pin.ami);
      if (revoked && isRevoked(revoked.tags)) {
        const why = revoked.tags[REVOKED_REASON_TAG];
        attention.push({
          ...base,
          kind: 'revoked-pin',
          ami: pin.ami,
          message: `${pin.place} names ${pin.ami}, revoked at ${revoked.tags[REVOKED_TAG]}${why ? ` (${why})` : ''}: roll it back (bake rollback) or build anew`,
        });
      } else if (!input.existing.has(pin.ami)) {
        attention.push({
          ...base,
          kind: 'broken-pin',
          ami: pin.ami,
          message: `${pin.place} names ${pin.ami}, which no longer exists: a stack using it cannot launch`,
        });
      } else if (pin.ami !== current && !laterEnvironment(pin.environment, input.environments)) {
        const pinned = byId.get(pin.ami);
        const what = pinned
          ? pinned.recipe === recipe.name
            ? `fingerprint ${pinned.fingerprint}`
            : `an image of ${pinned.recipe}`
          : 'not an image bake made';
        const now = current
          ? `the current image is ${current} (bake pin)`
          : 'no image of the current fingerprint is built yet (bake build)';
        attention.push({
          ...base,
          kind: 'stale-pin',
          ami: pin.ami,
          message: `${pin.place} names ${pin.ami} (${what}), not the current image: ${now}`,
        });
      }
    }
    attention.push(...pendingFixes(recipe.name, regions, input));
    return { name: recipe.name, fingerprint, regions };
  });
  return { recipes, attention };
}

/** Pinned images whose latest scan found security fixes pending; `overdue` past --max-pending-age. */
function pendingFixes(recipe: string, regions: InventoryRegion[], input: InventoryInput): Attention[] {
  const found: Attention[] = [];
  for (const region of regions)
    for (const image of region.images) {
      const scan = image.scan;
      if (!scan?.pending || image.pinnedBy.length === 0) continue;
      const since = scan.pendingSince ?? scan.at;
      const days = Math.floor((input.now.getTime() - Date.parse(since)) / DAY_MS);
      const overdue =
        input.maxPendingAgeMs !== undefined && input.now.getTime() - Date.parse(since) > input.maxPendingAgeMs;
      found.push({
        kind: 'pending-fixes',
        recipe,
        region: region.region,
        place: image.pinnedBy.join(', '),
        ami: image.imageId,
        overdue,
        message: `${image.imageId} has had ${scan.pending} security fix(es) pending for ${days}d (since ${since}): ${scan.packages}${overdue ? ' — longer than --max-pending-age' : ''}`,
      });
    }
  return found;
}

/**
 * CONTRACT: with --detailed-exitcode, 2 when a pin names an image that no longer exists or was revoked, or (with
 * --max-pending-age) a pinned image has had security fixes pending longer than that.
 */
export function inventoryExitCode(inventory: Inventory, detailed: boolean): number {
  return detailed && inventory.attention.some((a) => a.kind === 'broken-pin' || a.kind === 'revoked-pin' || a.overdue)
    ? 2
    : 0;
}

/** A pin of dev → staging → prod past the first: it moves by promotion, so not naming today's image is expected. */
function laterEnvironment(environment: string | undefined, environments: string[] | undefined): boolean {
  return environment !== undefined && (environments ?? []).indexOf(environment) > 0;
}

function environmentsOf(
  image: ImageRecord,
  pins: PinnedValue[],
  environments: string[],
): Pick<InventoryImage, 'environments' | 'promotions' | 'revoked'> {
  const pinning = [...new Set(pins.filter((p) => p.ami === image.imageId && p.environment).map((p) => p.environment!))];
  const ordered = environments.length ? environments.filter((e) => pinning.includes(e)) : pinning;
  const promotions = environments.flatMap((environment) => {
    const value = image.tags[promotedTag(environment)];
    return value ? [{ environment, ...parsePromotedValue(value) }] : [];
  });
  return {
    environments: ordered.map((environment) => {
      const since = image.tags[pinnedTag(environment)];
      return { environment, ...(since && { since }) };
    }),
    promotions,
    ...(isRevoked(image.tags) && {
      revoked: {
        at: image.tags[REVOKED_TAG],
        ...(image.tags[REVOKED_BY_TAG] && { by: image.tags[REVOKED_BY_TAG] }),
        ...(image.tags[REVOKED_REASON_TAG] && { reason: image.tags[REVOKED_REASON_TAG] }),
      },
    }),
  };
}
