import { describe, expect, it } from 'vitest';
import { TAG_VALUE_MAX, fitTagValue, isAwsTagKey, isOwnImage, isReservedTagKey } from '../../src/tags/tag-contract.js';

describe('the tag contract', () => {
  it("reserves bake's and EC2's prefixes in any case, and nothing else", () => {
    for (const key of ['bake:recipe', 'BAKE:anything', 'aws:cloudformation:stack-name', 'AWS:x'])
      expect(isReservedTagKey(key)).toBe(true);
    for (const key of ['team', 'Name', 'bakery', 'awsome', 'my-bake:tag']) expect(isReservedTagKey(key)).toBe(false);
    expect(isAwsTagKey('Aws:x')).toBe(true);
    expect(isAwsTagKey('bake:recipe')).toBe(false);
  });

  it('keeps a value EC2 accepts as is, and cuts a longer one to 256 characters ending in …, without splitting a character', () => {
    expect(fitTagValue('x'.repeat(TAG_VALUE_MAX))).toBe('x'.repeat(TAG_VALUE_MAX));
    const cut = fitTagValue('🍞'.repeat(300));
    expect([...cut]).toHaveLength(TAG_VALUE_MAX);
    expect(cut.endsWith('🍞…')).toBe(true);
  });

  it("counts an image as this bakery's when tagged with its name, or untagged and of one of its recipes", () => {
    const recipes = new Set(['web']);
    expect(isOwnImage({ 'bake:bakery': 'team-a', 'bake:recipe': 'other' }, 'team-a', recipes)).toBe(true);
    expect(isOwnImage({ 'bake:bakery': 'team-b', 'bake:recipe': 'web' }, 'team-a', recipes)).toBe(false);
    expect(isOwnImage({ 'bake:recipe': 'web' }, 'team-a', recipes)).toBe(true);
    expect(isOwnImage({ 'bake:recipe': 'api' }, 'team-a', recipes)).toBe(false);
  });
});
