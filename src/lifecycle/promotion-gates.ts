/**
 * What an image must show before it is pinned into a later environment (`bake promote`) or
 * pinned back (`bake rollback`, `bake revoke`'s roll back). Pure: the image as EC2 has it, the
 * gates and the clock come in; the first gate it fails goes out, as the words of a one-line refusal.
 */
import type { ImageRecord } from '../aws/image-record.js';
import type { PromotionGates, Recipe } from '../recipes/model.js';
import { LAUNCH_TEST_TAG, REVOKED_REASON_TAG, REVOKED_TAG, isRevoked, pinnedTag } from '../tags/tag-contract.js';

/**
 * Why this image may not be pinned at all (undefined: it may): gone, not this bakery's
 * recipe's, revoked, deprecated, or without a passed launch test.
 */
export function imageRefusal(
  ami: string,
  region: string,
  image: ImageRecord | undefined,
  recipe: Recipe,
  now: Date,
): string | undefined {
  if (!image || image.state === 'deregistered')
    return `${ami} in ${region} is deregistered or not an image of this bakery`;
  if (image.recipe !== recipe.name) return `${ami} in ${region} is an image of ${image.recipe}, not ${recipe.name}`;
  if (image.state !== 'available') return `${ami} in ${region} is ${image.state}, not available`;
  if (isRevoked(image.tags)) {
    const why = image.tags[REVOKED_REASON_TAG];
    return `${ami} in ${region} was revoked at ${image.tags[REVOKED_TAG]}${why ? ` (${why})` : ''}`;
  }
  if (image.deprecationTime && Date.parse(image.deprecationTime) <= now.getTime())
    return `${ami} in ${region} is deprecated since ${image.deprecationTime}`;
  const launchTest = image.tags[LAUNCH_TEST_TAG];
  // A recipe with `launch_test: false` bakes images without the tag; every other image must have passed.
  const optedOut = launchTest === undefined && recipe.launchTest?.enabled === false;
  if (launchTest !== 'passed' && !optedOut)
    return `${ami} in ${region} has not passed its launch test (${launchTest ?? 'no result recorded'})`;
  return undefined;
}

/** Why the promotion from `from` must wait (soak) or needs a name (approval); undefined: the gates are open. */
export function gateRefusal(
  ami: string,
  region: string,
  image: ImageRecord,
  from: string,
  to: string,
  gates: PromotionGates,
  approvedBy: string | undefined,
  now: Date,
): string | undefined {
  if (gates.soakMs > 0) {
    const pinnedAt = Date.parse(image.tags[pinnedTag(from)] ?? '');
    if (Number.isNaN(pinnedAt))
      return `${ami} in ${region} has no record of being pinned in ${from} (soak ${human(gates.soakMs)})`;
    const soaked = now.getTime() - pinnedAt;
    if (soaked < gates.soakMs)
      return `${ami} in ${region} has soaked ${human(Math.max(0, soaked))} of ${human(gates.soakMs)} in ${from} (promotable from ${new Date(pinnedAt + gates.soakMs).toISOString()})`;
  }
  if (gates.approval && !approvedBy?.trim()) return `promoting into ${to} needs an approval (--approved-by NAME)`;
  return undefined;
}

/** 3d 4h, 2h 5m, 45s: enough to read a soak at a glance. */
export function human(ms: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of units) {
    const amount = Math.floor(rest / size);
    if (amount > 0 && parts.length < 2) parts.push(`${amount}${unit}`);
    if (amount > 0) rest -= amount * size;
  }
  return parts.join(' ') || '0s';
}
