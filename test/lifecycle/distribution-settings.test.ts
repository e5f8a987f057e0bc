import { describe, expect, it } from 'vitest';
import { distributionDrift, distributionTag } from '../../src/lifecycle/distribution-settings.js';
import { isNoChange, sharingChange } from '../../src/aws/launch-permissions.js';

const ORG = 'arn:aws:organizations::111122223333:organization/o-a1b2c3d4e5';

describe('the bake:distribution tag', () => {
  it('is the same whatever the order of share_with, and fits an EC2 tag value with hundreds of principals', () => {
    const one = distributionTag({ shareWith: ['111111111111', ORG], deprecateAfterDays: 90, imdsv2: true });
    expect(one).toMatch(/^share=[0-9a-f]{12},deprecate=90d,imdsv2=on$/);
    expect(distributionTag({ shareWith: [ORG, '111111111111', ORG], deprecateAfterDays: 90, imdsv2: true })).toBe(one);
    const many = Array.from({ length: 500 }, (_, i) => String(100000000000 + i));
    expect(distributionTag({ shareWith: many, imdsv2: false }).length).toBeLessThanOrEqual(256);
    expect(distributionTag({ shareWith: [], imdsv2: false })).toBe('share=none,deprecate=never,imdsv2=off');
  });

  it('says which setting changed, or that none was ever confirmed', () => {
    const before = distributionTag({ shareWith: ['111111111111'], deprecateAfterDays: 90, imdsv2: true });
    expect(distributionDrift(before, before)).toBeUndefined();
    expect(distributionDrift(before, distributionTag({ shareWith: [], deprecateAfterDays: 90, imdsv2: true }))).toBe(
      'share_with changed',
    );
    expect(distributionDrift(before, distributionTag({ shareWith: ['111111111111'], imdsv2: true }))).toBe(
      'deprecate_after_days changed',
    );
    expect(distributionDrift(undefined, before)).toBe('sharing, IMDSv2 and deprecation not confirmed');
  });
});

describe('a sharing change', () => {
  const nobody = { accounts: [], organizations: [], organizationalUnits: [] };
  it('grants what is missing and revokes what is no longer wanted, public access included', () => {
    const change = sharingChange(
      { accounts: ['111111111111', '222222222222'], organizations: [], organizationalUnits: [], public: true },
      { accounts: ['222222222222', '333333333333'], organizations: [ORG], organizationalUnits: [] },
    );
    expect(change).toEqual({
      add: { accounts: ['333333333333'], organizations: [ORG], organizationalUnits: [] },
      remove: { accounts: ['111111111111'], organizations: [], organizationalUnits: [] },
      removePublic: true,
    });
    expect(
      isNoChange(sharingChange({ ...nobody, accounts: ['1'], public: false }, { ...nobody, accounts: ['1'] })),
    ).toBe(true);
  });
});
