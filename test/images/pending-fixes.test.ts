import { describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../src/aws/image-record.js';
import { imageInventory, inventoryExitCode } from '../../src/images/inventory.js';
import { inventoryLines } from '../../src/images/inventory-lines.js';
import { scanTags } from '../../src/scan/scan-tags.js';
import { recipeOf } from '../pipeline/bakery.js';

const web = recipeOf('/bakery', 'web', { kind: 'ami', ami: 'ami-0123456789abcdef0' });
const now = new Date('2026-12-07T12:00:00.000Z');
const fix = { package: 'openssl', installed: '3.0.20-1~deb12u2', fixed: '3.0.22-1~deb12u2' };

function image(imageId: string, tags: Record<string, string>): ImageRecord {
  return {
    imageId,
    region: 'us-east-1',
    name: imageId,
    recipe: 'web',
    fingerprint: 'f1',
    createdAt: '2026-11-01T00:00:00.000Z',
    state: 'available',
    snapshotIds: [],
    tags: { 'bake:recipe': 'web', 'bake:fingerprint': 'f1', 'bake:launch-test': 'passed', ...tags },
  };
}

function inventoryWith(scannedAt: string, maxPendingAgeMs?: number) {
  return imageInventory({
    entries: [{ recipe: web, fingerprint: 'f1', amis: { 'us-east-1': 'ami-0aaaaaaaaaaaaaaa1' } }],
    images: [image('ami-0aaaaaaaaaaaaaaa1', scanTags(scannedAt, [fix], undefined))],
    pins: new Map([
      ['web', [{ place: 'infra/amis.auto.tfvars:web_ami', region: 'us-east-1', ami: 'ami-0aaaaaaaaaaaaaaa1' }]],
    ]),
    existing: new Set(['ami-0aaaaaaaaaaaaaaa1']),
    now,
    maxPendingAgeMs,
  });
}

describe('bake images and pending security fixes', () => {
  it("shows a pinned image's last scan and its pending fixes", () => {
    const inventory = inventoryWith('2026-12-06T12:00:00.000Z');
    expect(inventory.recipes[0]!.regions[0]!.images[0]!.scan?.pending).toBe(1);
    expect(inventory.attention).toEqual([
      expect.objectContaining({ kind: 'pending-fixes', ami: 'ami-0aaaaaaaaaaaaaaa1', overdue: false }),
    ]);
    const lines = inventoryLines(inventory);
    expect(lines.join('\n')).toMatch(/1 pending \(2026-12-06\)/);
    expect(lines.join('\n')).toMatch(/openssl 3\.0\.20-1~deb12u2 → 3\.0\.22-1~deb12u2/);
  });

  it('fails --detailed-exitcode only when fixes are pending longer than --max-pending-age', () => {
    const week = 7 * 86_400_000;
    expect(inventoryExitCode(inventoryWith('2026-12-06T12:00:00.000Z', week), true)).toBe(0);
    expect(inventoryExitCode(inventoryWith('2026-11-20T12:00:00.000Z', week), true)).toBe(2);
    expect(inventoryExitCode(inventoryWith('2026-11-20T12:00:00.000Z'), true)).toBe(0);
    expect(inventoryExitCode(inventoryWith('2026-11-20T12:00:00.000Z', week), false)).toBe(0);
  });
});
