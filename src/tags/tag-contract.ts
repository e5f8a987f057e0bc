/**
 * The tag contract (the tag list in docs/build.md): the keys bake writes on every image it bakes,
 * their snapshots and its build locks. EC2 tags are bake's only record of what has been built, so
 * every module that reads or writes one takes its key from here.
 */

import { DEFAULT_ARCHITECTURE, isArchitecture, recipeKey } from './architecture.js';

export const NAME_TAG = 'Name';
export const RECIPE_TAG = 'bake:recipe';
export const FINGERPRINT_TAG = 'bake:fingerprint';
export const GIT_COMMIT_TAG = 'bake:git-commit';
export const BASE_AMI_TAG = 'bake:base-ami';
/** The parent recipe's AMI, when built FROM another recipe. */
export const PARENT_TAG = 'bake:parent';
/** ISO 8601. */
export const BUILT_AT_TAG = 'bake:built-at';
/** Jenkins BUILD_URL. */
export const BUILD_URL_TAG = 'bake:build-url';
/** Jenkins JOB_NAME. */
export const JOB_TAG = 'bake:job';
/** Per-component digests: explain a rebuild when the old commit is gone. */
export const INPUTS_TAG = 'bake:inputs';
/** The share/deprecation/IMDSv2 settings applied in that region (src/lifecycle/distribution-settings.ts). */
export const DISTRIBUTION_TAG = 'bake:distribution';
/** Which bakery owns the image: plan, pin, prune and images never touch another bakery's. */
export const BAKERY_TAG = 'bake:bakery';
/** The image's CPU architecture, x86_64 or arm64 (src/tags/architecture.ts); absent on images baked before bake knew architectures: x86_64. */
export const ARCH_TAG = 'bake:arch';
/** pending until the new image's launch test finished, then passed | failed. */
export const LAUNCH_TEST_TAG = 'bake:launch-test';
export type LaunchTestTagValue = 'pending' | 'passed' | 'failed';

/**
 * The image's latest security scan (`bake scan`, src/scan/scan-tags.ts): when it ran (ISO 8601), how
 * many installed packages had a newer version in the security suite, since when that count has
 * been above zero (ISO 8601, '' when none is pending), and the first of them
 * (`openssl 3.0.20-1 → 3.0.22-1, libssl3 …`, cut to EC2's 256 characters).
 */
export const SCAN_AT_TAG = 'bake:scan-at';
export const SCAN_PENDING_TAG = 'bake:scan-pending';
export const SCAN_PENDING_SINCE_TAG = 'bake:scan-pending-since';
export const SCAN_PACKAGES_TAG = 'bake:scan-packages';

/**
 * Asks bake's local cloud for a VM with its own kernel instead of a container (`vm`; any other
 * value, or none, is a container): on a local build's builder and launch-test instances of a
 * recipe with `local: {machine: vm}` only, never sent to AWS (docs/local-cloud.md).
 */
export const LOCAL_MACHINE_TAG = 'bake:local-machine';

/** Build locks: EC2 key pairs named bake-lock-<recipe>@<bakery> (src/aws/recipe-lock.ts). */
export const LOCK_TAG = 'bake:lock';
export const LOCK_HOLDER_TAG = 'bake:lock-holder';
export const LOCK_ALIVE_TAG = 'bake:lock-alive';
/** The holder's process, `<boot id>/<pid namespace>/<pid>:<start time>`: a dead one on the same host is taken over at once. */
export const LOCK_PROCESS_TAG = 'bake:lock-process';

/** An image with this launch-test value is not "today's image" for plan, build, pin or images. */
export function launchTestBlocksReuse(value: string | undefined): boolean {
  return value === 'pending' || value === 'failed';
}

/**
 * Which (recipe, architecture) pair an image is of, as recipeKey names it (src/tags/architecture.ts):
 * `web` for x86_64 images (and those made before the `bake:arch` tag), `web.arm64` for arm64 ones.
 */
export function imageRecipeKey(tags: Record<string, string>): string {
  const recipe = tags[RECIPE_TAG] ?? '';
  const arch = tags[ARCH_TAG];
  return recipeKey(recipe, isArchitecture(arch) ? arch : DEFAULT_ARCHITECTURE);
}

/**
 * Whether an image with these tags is this bakery's: tagged with its name, or (made before
 * bakeries had names) untagged and of one of its recipes.
 */
export function isOwnImage(
  tags: Record<string, string>,
  bakery: string,
  recipes: ReadonlySet<string>,
  legacyName?: string,
): boolean {
  const owner = tags[BAKERY_TAG];
  return owner === undefined
    ? recipes.has(tags[RECIPE_TAG] ?? '') || recipes.has(imageRecipeKey(tags))
    : owner === bakery || (legacyName !== undefined && owner === legacyName);
}

/** `aws:` keys belong to EC2: nobody may write them, and a copy of an image does not carry them. */
export function isAwsTagKey(key: string): boolean {
  return key.toLowerCase().startsWith('aws:');
}

/** Keys a recipe or the bakery config may not set: bake's own and EC2's. */
export function isReservedTagKey(key: string): boolean {
  return /^(bake|aws):/i.test(key);
}

/** EC2 limit on a tag value. */
export const TAG_VALUE_MAX = 256;

/** EC2 refuses values over 256 characters; a long value is cut and marked rather than failing the bake. */
export function fitTagValue(value: string): string {
  const chars = [...value];
  return chars.length <= TAG_VALUE_MAX ? value : `${chars.slice(0, TAG_VALUE_MAX - 1).join('')}…`;
}

/*
 * Environments (docs/lifecycle.md). EC2 allows 50 tags of 256 characters per image, so there is
 * no growing history list: each image carries one tag per environment it was ever pinned in,
 * holding the FIRST pin time, and an environment's history (for rollback) is read across the
 * recipe's images by those tags.
 */
/** `bake:pinned:<env>`: ISO 8601 time the image was first pinned in that environment. */
export const pinnedTag = (environment: string) => `bake:pinned:${environment}`;
/**
 * `bake:promoted:<env>`: `<ISO 8601 time>` when `bake promote` pinned the image there, followed by
 * ` approved by <name>` when an approver was named (one tag, not two: the 50-tag budget).
 */
export const promotedTag = (environment: string) => `bake:promoted:${environment}`;
export function promotedValue(at: Date, approvedBy: string | undefined): string {
  return fitTagValue(`${at.toISOString()}${approvedBy ? ` approved by ${approvedBy}` : ''}`);
}
export function parsePromotedValue(value: string): { at: string; approvedBy?: string } {
  const [, at, approvedBy] = /^(\S+)(?: approved by (.*))?$/s.exec(value) ?? [undefined, value];
  return { at: at ?? value, ...(approvedBy && { approvedBy }) };
}
/** Revocation: ISO 8601 time, who, and why (`bake revoke`). A revoked image is never current, promoted or rolled back to. */
export const REVOKED_TAG = 'bake:revoked';
export const REVOKED_BY_TAG = 'bake:revoked-by';
export const REVOKED_REASON_TAG = 'bake:revoked-reason';

export function isRevoked(tags: Record<string, string>): boolean {
  return tags[REVOKED_TAG] !== undefined;
}
