import { describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../src/aws/image-record.js';
import { decidePrune, type PruneFacts, type PruneRules } from '../../src/lifecycle/prune-decisions.js';

const NOW = new Date('2026-11-22T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();
let next = 0;

function image(recipe: string, region: string, ageDays: number, extra: Partial<ImageRecord> = {}): ImageRecord {
  next += 1;
  const imageId = `ami-${next.toString(16).padStart(17, '0')}`;
  return {
    imageId,
    region,
    name: `${recipe}-${next}`,
    recipe,
    fingerprint: `fp-${next}`,
    createdAt: daysAgo(ageDays),
    state: 'available',
    snapshotIds: [`snap-${next.toString(16).padStart(17, '0')}`],
    tags: { 'bake:recipe': recipe, 'bake:built-at': daysAgo(ageDays), 'bake:bakery': 'shop' },
    ...extra,
  };
}

function decide(images: ImageRecord[], facts: Partial<PruneFacts> = {}, rules: Partial<PruneRules> = {}) {
  const decisions = decidePrune(
    { images, pinned: new Map(), current: new Map(), bakeryRecipes: new Set(['web', 'base']), ...facts },
    { keep: 2, now: NOW, ...rules },
  );
  return Object.fromEntries(decisions.map((d) => [d.imageId, { action: d.action, reasons: d.reasons }]));
}

describe('which images prune deletes', () => {
  it('keeps the newest N per recipe and region by bake:built-at and deletes the rest', () => {
    const east = [5, 1, 30, 10].map((age) => image('web', 'us-east-1', age));
    const west = [40, 50].map((age) => image('web', 'eu-west-1', age));
    const base = [image('base', 'us-east-1', 60)];
    const result = decide([...east, ...west, ...base]);
    expect(result[east[1].imageId]).toEqual({ action: 'keep', reasons: ['newest 2 of web in us-east-1 (#1)'] });
    expect(result[east[0].imageId].action).toBe('keep');
    expect(result[east[3].imageId]).toEqual({
      action: 'delete',
      reasons: ['not among the newest 2 of web in us-east-1 (#3)'],
    });
    expect(result[east[2].imageId]).toEqual({
      action: 'delete',
      reasons: ['not among the newest 2 of web in us-east-1 (#4)'],
    });
    // Counted per region: eu-west-1's two old images are its newest two.
    expect(west.map((i) => result[i.imageId].action)).toEqual(['keep', 'keep']);
    expect(result[base[0].imageId].action).toBe('keep');
  });

  it('goes by the bake:built-at tag, not by when EC2 made the image (a copy made later is as old as its bake)', () => {
    const older = image('web', 'us-east-1', 1, { tags: { 'bake:built-at': daysAgo(20), 'bake:bakery': 'shop' } });
    const newer = image('web', 'us-east-1', 15);
    const result = decide([older, newer], {}, { keep: 1 });
    expect(result[newer.imageId].action).toBe('keep');
    expect(result[older.imageId].action).toBe('delete');
  });

  it('with --older-than deletes only images older than that, and says how old each is', () => {
    const images = [1, 2, 3, 20, 45].map((age) => image('web', 'us-east-1', age));
    const result = decide(images, {}, { keep: 1, olderThanMs: 30 * 86_400_000, olderThanLabel: '30d' });
    expect(result[images[3].imageId]).toEqual({
      action: 'keep',
      reasons: ['built 20d ago, not older than 30d'],
    });
    expect(result[images[4].imageId]).toEqual({
      action: 'delete',
      reasons: ['not among the newest 1 of web in us-east-1 (#5)', 'built 45d ago, older than 30d'],
    });
    expect(images.map((i) => result[i.imageId].action)).toEqual(['keep', 'keep', 'keep', 'keep', 'delete']);
  });

  it('deletes an image that failed its launch test even when it is the newest or has the current fingerprint, unless pinned', () => {
    const good = image('web', 'us-east-1', 5);
    const failed = image('web', 'us-east-1', 1, {
      fingerprint: 'fp-today',
      tags: { 'bake:recipe': 'web', 'bake:built-at': daysAgo(1), 'bake:launch-test': 'failed', 'bake:bakery': 'shop' },
    });
    const pinnedFailed = image('web', 'us-east-1', 2, {
      tags: { 'bake:recipe': 'web', 'bake:built-at': daysAgo(2), 'bake:launch-test': 'failed', 'bake:bakery': 'shop' },
    });
    const result = decide(
      [good, failed, pinnedFailed],
      {
        current: new Map([['web', 'fp-today']]),
        pinned: new Map([[pinnedFailed.imageId, ['infra/web.tfvars:web_ami']]]),
      },
      { keep: 1 },
    );
    expect(result[failed.imageId]).toEqual({ action: 'delete', reasons: ['failed its launch test'] });
    // The failed ones do not count among the newest: the older good image is still #1.
    expect(result[good.imageId]).toEqual({ action: 'keep', reasons: ['newest 1 of web in us-east-1 (#1)'] });
    expect(result[pinnedFailed.imageId]).toEqual({ action: 'keep', reasons: ['pinned in infra/web.tfvars:web_ami'] });
  });

  it('deletes a revoked image even when it is the newest or current, once nothing pins it', () => {
    const good = image('web', 'us-east-1', 5);
    const revokedTags = { 'bake:recipe': 'web', 'bake:bakery': 'shop', 'bake:revoked': daysAgo(0) };
    const revoked = image('web', 'us-east-1', 1, {
      fingerprint: 'fp-today',
      tags: { ...revokedTags, 'bake:built-at': daysAgo(1) },
    });
    const pinnedRevoked = image('web', 'us-east-1', 2, { tags: { ...revokedTags, 'bake:built-at': daysAgo(2) } });
    const result = decide(
      [good, revoked, pinnedRevoked],
      {
        current: new Map([['web', 'fp-today']]),
        pinned: new Map([[pinnedRevoked.imageId, ['infra/prod/web.tfvars:web_ami']]]),
      },
      { keep: 1 },
    );
    expect(result[revoked.imageId]).toEqual({ action: 'delete', reasons: [`revoked at ${daysAgo(0)}`] });
    expect(result[good.imageId]).toEqual({ action: 'keep', reasons: ['newest 1 of web in us-east-1 (#1)'] });
    expect(result[pinnedRevoked.imageId]).toEqual({
      action: 'keep',
      reasons: ['pinned in infra/prod/web.tfvars:web_ami'],
    });
  });

  it('never deletes an image any tfvars target pins, however old', () => {
    const images = [2, 3, 300].map((age) => image('web', 'us-east-1', age));
    const pinned = new Map([
      [images[2].imageId, ['infra/web/amis.auto.tfvars:web_ami', 'infra/shared.tfvars.json:amis']],
    ]);
    const result = decide(images, { pinned }, { keep: 0, olderThanMs: 86_400_000 });
    expect(result[images[2].imageId]).toEqual({
      action: 'keep',
      reasons: ['pinned in infra/web/amis.auto.tfvars:web_ami, infra/shared.tfvars.json:amis'],
    });
    expect(result[images[0].imageId].action).toBe('delete');
  });

  it("never deletes an image of its recipe's current fingerprint, in any region", () => {
    const old = image('web', 'us-east-1', 100, { fingerprint: 'today' });
    const oldCopy = image('web', 'eu-west-1', 100, { fingerprint: 'today' });
    const newer = [1, 2].map((age) => image('web', 'us-east-1', age));
    const result = decide([old, oldCopy, ...newer], { current: new Map([['web', 'today']]) }, { keep: 0 });
    expect(result[old.imageId]).toEqual({ action: 'keep', reasons: ['current fingerprint of web'] });
    expect(result[oldCopy.imageId].action).toBe('keep');
    expect(newer.map((i) => result[i.imageId].action)).toEqual(['delete', 'delete']);
  });

  it('protects images of recipes no longer in the bakery by keep-N, and says the recipe is gone', () => {
    const orphans = [1, 2, 3].map((age) => image('legacy-api', 'us-east-1', age));
    const result = decide(orphans);
    expect(result[orphans[0].imageId]).toEqual({
      action: 'keep',
      reasons: ['newest 2 of legacy-api in us-east-1 (#1)', 'recipe legacy-api is no longer in the bakery'],
    });
    expect(result[orphans[2].imageId]).toEqual({
      action: 'delete',
      reasons: [
        'not among the newest 2 of legacy-api in us-east-1 (#3)',
        'recipe legacy-api is no longer in the bakery',
      ],
    });
  });

  it('keeps an image still being created and one whose build time cannot be read', () => {
    const pending = image('web', 'us-east-1', 10, { state: 'pending' });
    const unknown = image('web', 'us-east-1', 10, {
      createdAt: '',
      tags: { 'bake:built-at': 'yesterday', 'bake:bakery': 'shop' },
    });
    const old = image('web', 'us-east-1', 10);
    const result = decide([pending, unknown, old], {}, { keep: 0 });
    expect(result[pending.imageId]).toEqual({ action: 'keep', reasons: ['still being created (pending)'] });
    expect(result[unknown.imageId]).toEqual({ action: 'keep', reasons: ['no readable build time'] });
    expect(result[old.imageId].action).toBe('delete');
  });

  it('considers only the asked recipes when some are named', () => {
    const web = [1, 2, 3].map((age) => image('web', 'us-east-1', age));
    const base = [1, 2, 3].map((age) => image('base', 'us-east-1', age));
    const result = decide([...web, ...base], { selected: new Set(['web']) });
    expect(Object.keys(result).sort()).toEqual(web.map((i) => i.imageId).sort());
  });
});
