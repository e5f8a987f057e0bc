/**
 * Security freshness in the plan (`rebuild_on: [security]`): a recipe whose current image's latest
 * scan (its `bake:scan-*` tags, written by `bake scan` and by a launch test after an upgrade) found
 * pending security updates is baked again, although its fingerprint did not change; its children
 * follow, as they do for a parent rebuild. No scan, or one older than `scan_max_age`, is said in the
 * plan and changes nothing.
 */
import type { ImageRecord } from '../aws/image-record.js';
import { DEFAULT_SCAN_MAX_AGE_MS, type BakeryConfig, type Recipe } from '../recipes/model.js';
import { scanRecordOf, type ScanRecord } from '../scan/scan-tags.js';

export interface SecurityFreshness {
  image: string;
  /** fresh: the plan acts on it; stale: older than scan_max_age; none: never scanned. */
  state: 'fresh' | 'stale' | 'none';
  scan?: ScanRecord;
  /** What the plan says about it, one line. */
  note: string;
}

export function securityFreshness(
  recipe: Recipe,
  current: ImageRecord | undefined,
  config: BakeryConfig,
  now: Date,
): SecurityFreshness | undefined {
  if (!recipe.rebuildOn?.includes('security') || !current) return undefined;
  const scan = scanRecordOf(current.tags);
  const image = current.imageId;
  if (!scan) return { image, state: 'none', note: `no security scan of ${image} yet (bake scan)` };
  const maxAge = config.scanMaxAgeMs ?? DEFAULT_SCAN_MAX_AGE_MS;
  if (now.getTime() - Date.parse(scan.at) > maxAge)
    return {
      image,
      state: 'stale',
      scan,
      note: `the latest security scan of ${image} (${scan.at}) is older than scan_max_age (${days(maxAge)}): not planned from`,
    };
  return {
    image,
    state: 'fresh',
    scan,
    note: scan.pending
      ? `${scan.pending} pending security update(s) on ${image} (scanned ${scan.at})`
      : `no pending security update on ${image} (scanned ${scan.at})`,
  };
}

/** Why a recipe that would be reused is baked again for security, or undefined. */
export function securityRebuildReason(
  security: SecurityFreshness | undefined,
  parent: { action: string; replaces?: string[] } | undefined,
  parentName: string | undefined,
): string | undefined {
  if (security?.state === 'fresh' && security.scan && security.scan.pending > 0)
    return `security updates pending since ${security.scan.pendingSince ?? security.scan.at}: ${security.scan.packages}`;
  if (parent?.action === 'build' && parent.replaces?.length)
    return `parent ${parentName} is rebuilt for its pending security updates`;
  return undefined;
}

function days(ms: number): string {
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : `${Math.round(ms / 3_600_000)}h`;
}
