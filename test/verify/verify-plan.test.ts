import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import {
  leftoversOf,
  playbookExtraVars,
  provisionRecord,
  verifyChain,
  type ProvisionRecord,
} from '../../src/verify/verify-plan.js';

const fixture = path.join(import.meta.dirname, '../fixtures/verify/bakery');

describe('what bake verify runs', () => {
  it("provisions the recipe's ancestors first, root first, then the recipe", async () => {
    const bakery = await loadBakery(fixture);
    const child = bakery.recipes.find((r) => r.name === 'child')!;
    const parent = bakery.recipes.find((r) => r.name === 'parent')!;
    expect(verifyChain(bakery, child).map((r) => r.name)).toEqual(['parent', 'child']);
    expect(verifyChain(bakery, parent).map((r) => r.name)).toEqual(['parent']);
  });

  it('gives each playbook the extra vars Packer gives it, and says it is a verify', async () => {
    const bakery = await loadBakery(fixture);
    expect(playbookExtraVars(bakery.recipes.find((r) => r.name === 'child')!)).toEqual({
      bake_recipe: 'child',
      bake_fingerprint: '',
      bake_verify: true,
    });
  });
});

describe('what a kept instance still holds', () => {
  const record = (chain: ProvisionRecord['chain']): ProvisionRecord => ({
    recipe: 'child',
    createdAt: 't0',
    provisionedAt: 't1',
    chain,
  });

  it('lists roles, cloud-init files and recipes an earlier run provisioned that the chain no longer has', () => {
    const before = record([
      { recipe: 'base', roles: ['common', 'old'], cloudInitFiles: ['90-bake-base-1-a.cfg'] },
      { recipe: 'child', roles: ['app'], cloudInitFiles: [] },
    ]);
    const now = record([
      { recipe: 'other', roles: ['common'], cloudInitFiles: [] },
      { recipe: 'child', roles: ['app', 'old2'], cloudInitFiles: [] },
    ]);
    expect(leftoversOf(before, now)).toEqual(['recipe base', 'role old', 'cloud-init file 90-bake-base-1-a.cfg']);
    expect(leftoversOf(now, now)).toEqual([]);
  });

  it('records each recipe of the chain with its roles and cloud-init files', async () => {
    const bakery = await loadBakery(fixture);
    const [parent, child] = verifyChain(
      bakery,
      bakery.recipes.find((r) => r.name === 'child')!,
    );
    const made = provisionRecord(
      child,
      [
        { recipe: parent, cloudInitFiles: ['90-bake-parent-1-parent.cfg'] },
        { recipe: child, cloudInitFiles: [] },
      ],
      'a',
      'b',
    );
    expect(made).toEqual({
      recipe: 'child',
      createdAt: 'a',
      provisionedAt: 'b',
      chain: [
        { recipe: 'parent', roles: ['motd'], cloudInitFiles: ['90-bake-parent-1-parent.cfg'] },
        { recipe: 'child', roles: ['app'], cloudInitFiles: [] },
      ],
    });
  });
});
