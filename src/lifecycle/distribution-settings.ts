/**
 * The settings bake applies to an image after it exists — who it is shared with, when it is
 * deprecated, IMDSv2-only — are not part of what the image contains, so they are kept out of the
 * fingerprint: changing `share_with` must not cost a 20-minute bake. Instead each image carries
 * a `bake:distribution` tag saying which settings it has been given, written only after every
 * one of them was applied in that region. The plan compares it with the recipe's settings and
 * re-applies them where they differ or were never confirmed (a run that stopped half-way).
 *
 * The tag is readable (`share=…,deprecate=…,imdsv2=…`) so that a plan can say which setting
 * changed; the share list is a digest because a tag value holds at most 256 characters.
 */
import { createHash } from 'node:crypto';

const SHARE_HEX = 12;

/** The part of a recipe (src/recipes/model.ts) the tag records: a Recipe is one. */
export interface DistributionSettings {
  /** Principals, in any order; empty = shared with nobody. */
  shareWith: string[];
  deprecateAfterDays?: number;
  imdsv2: boolean;
}

/** The `bake:distribution` tag value for these settings; the order of share_with does not matter. */
export function distributionTag(settings: DistributionSettings): string {
  const principals = [...new Set(settings.shareWith)].sort();
  const share = principals.length
    ? createHash('sha256').update(principals.join('\n')).digest('hex').slice(0, SHARE_HEX)
    : 'none';
  const deprecate = settings.deprecateAfterDays === undefined ? 'never' : `${settings.deprecateAfterDays}d`;
  return `share=${share},deprecate=${deprecate},imdsv2=${settings.imdsv2 ? 'on' : 'off'}`;
}

const SETTING_NAMES: Record<string, string> = {
  share: 'share_with',
  deprecate: 'deprecate_after_days',
  imdsv2: 'imdsv2',
};

function parts(tag: string): Map<string, string> {
  return new Map(tag.split(',').map((part) => part.split('=', 2) as [string, string]));
}

/**
 * Why an image's applied settings (its tag, or undefined when none was ever confirmed) differ
 * from the wanted ones; undefined when they match.
 */
export function distributionDrift(applied: string | undefined, wanted: string): string | undefined {
  if (applied === wanted) return undefined;
  if (applied === undefined) return 'sharing, IMDSv2 and deprecation not confirmed';
  const before = parts(applied);
  const changed = [...parts(wanted)]
    .filter(([key, value]) => before.get(key) !== value)
    .map(([key]) => SETTING_NAMES[key] ?? key);
  return `${changed.length ? changed.join(', ') : 'distribution settings'} changed`;
}
