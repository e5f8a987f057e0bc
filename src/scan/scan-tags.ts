/**
 * A security scan as tags on the image it looked at (keys in src/tags/tag-contract.ts), so any
 * agent can plan from it without shared state, and read back from them by plan and images.
 */
import {
  SCAN_AT_TAG,
  SCAN_PACKAGES_TAG,
  SCAN_PENDING_SINCE_TAG,
  SCAN_PENDING_TAG,
  TAG_VALUE_MAX,
} from '../tags/tag-contract.js';
import type { PendingUpdate } from './scan-output.js';

/** What an image's tags say about its latest scan. */
export interface ScanRecord {
  /** ISO 8601. */
  at: string;
  pending: number;
  /** ISO 8601: the first scan of the image that found something pending, while it still does. */
  pendingSince?: string;
  /** `openssl 3.0.20-1 → 3.0.22-1, libssl3 …` as tagged (may be cut short). */
  packages: string;
}

export function scanRecordOf(tags: Record<string, string>): ScanRecord | undefined {
  const at = tags[SCAN_AT_TAG];
  if (!at || Number.isNaN(Date.parse(at))) return undefined;
  const pending = Number(tags[SCAN_PENDING_TAG] ?? '0');
  const since = tags[SCAN_PENDING_SINCE_TAG];
  return {
    at,
    pending: Number.isInteger(pending) && pending >= 0 ? pending : 0,
    ...(since && !Number.isNaN(Date.parse(since)) && { pendingSince: since }),
    packages: tags[SCAN_PACKAGES_TAG] ?? '',
  };
}

/** `name installed → fixed` for the first packages, then `…` with the number left, within EC2's 256 characters. */
export function pendingSummary(pending: PendingUpdate[], max = TAG_VALUE_MAX): string {
  let text = '';
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    const left = pending.length - i;
    const item = `${i ? ', ' : ''}${p.package} ${p.installed} → ${p.fixed}`;
    // Room is kept for the `, …` and the count of the others.
    const tail = left > 1 ? `, … (+${left - 1})`.length : 0;
    if ([...text].length + [...item].length + tail > max) {
      const name = `${i ? ', ' : ''}${p.package}`;
      const rest = `, … (+${left - 1})`;
      if ([...text].length + [...name].length + (left > 1 ? rest.length : 0) <= max) {
        text += name;
        if (left > 1) text += rest;
      } else text += `${i ? ', ' : ''}… (+${left})`;
      return [...text].slice(0, max).join('');
    }
    text += item;
  }
  return text;
}

/** The tags a finished scan writes; `previous` keeps the start of a pending stretch. */
export function scanTags(
  scannedAt: string,
  pending: PendingUpdate[],
  previous: ScanRecord | undefined,
): Record<string, string> {
  const since = pending.length ? (previous?.pending ? (previous.pendingSince ?? previous.at) : scannedAt) : '';
  return {
    [SCAN_AT_TAG]: scannedAt,
    [SCAN_PENDING_TAG]: String(pending.length),
    [SCAN_PENDING_SINCE_TAG]: since,
    [SCAN_PACKAGES_TAG]: pendingSummary(pending),
  };
}
