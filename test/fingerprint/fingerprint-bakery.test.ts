import { describe, expect, it } from 'vitest';
import {
  fingerprintBakery,
  readFingerprintFacts,
  type FingerprintSources,
} from '../../src/fingerprint/fingerprint-bakery.js';
import { bakeryOf, recipeOf } from '../pipeline/bakery.js';

const filter = { kind: 'filter' as const, name: 'debian-12-*', owners: ['136693071363'] };
const base = recipeOf('/b', 'base', filter);
const web = recipeOf('/b', 'web', { kind: 'recipe', recipe: 'base' });
const tools = recipeOf('/b', 'tools', filter);
const bakery = bakeryOf('/b', [web, tools, base]);

/** Sources that answer from memory and count the base lookups. */
function sources(imageId: string): FingerprintSources & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    contentIds: { idsUnder: async () => new Map([['roles/common/tasks/main.yml', 'a'.repeat(40)]]) },
    resolveBase: async (spec, region) => {
      lookups.push(`${spec.kind} ${region}`);
      return { imageId, name: 'debian-12-amd64-20261101' };
    },
  };
}

describe('fingerprinting a bakery in one pass', () => {
  it('fingerprints the asked recipes and the parents they are built FROM, parents first', async () => {
    const from = sources('ami-0aaaaaaaaaaaaaaaa');
    const fingerprints = fingerprintBakery(bakery, [web], await readFingerprintFacts(bakery, [web], from, 'v1'));
    expect([...fingerprints.keys()]).toEqual(['base', 'web']);
    expect(fingerprints.get('web')!.inputs.parent).toBe(fingerprints.get('base')!.fingerprint.value);
    expect(fingerprints.get('base')!.base).toEqual({
      imageId: 'ami-0aaaaaaaaaaaaaaaa',
      name: 'debian-12-amd64-20261101',
    });
  });

  it('looks a shared base up once, and changes every fingerprint down the chain when it moves', async () => {
    const before = sources('ami-0aaaaaaaaaaaaaaaa');
    const after = sources('ami-0bbbbbbbbbbbbbbbb');
    const then = fingerprintBakery(
      bakery,
      bakery.recipes,
      await readFingerprintFacts(bakery, bakery.recipes, before, 'v1'),
    );
    const now = fingerprintBakery(
      bakery,
      bakery.recipes,
      await readFingerprintFacts(bakery, bakery.recipes, after, 'v1'),
    );
    expect(before.lookups).toEqual(['filter us-east-1']);
    for (const name of ['base', 'web', 'tools'])
      expect(now.get(name)!.fingerprint.value).not.toBe(then.get(name)!.fingerprint.value);
  });

  it('leaves bases out when given none (what --changed-since compares), and the generator in', async () => {
    const ids = new Map<string, string>();
    const withoutBases = fingerprintBakery(bakery, [tools], { ids, generator: 'v1' });
    expect(withoutBases.get('tools')!.inputs.base).toBe('');
    expect(fingerprintBakery(bakery, [tools], { ids, generator: 'v1' }).get('tools')!.fingerprint).toEqual(
      withoutBases.get('tools')!.fingerprint,
    );
    expect(fingerprintBakery(bakery, [tools], { ids, generator: 'v2' }).get('tools')!.fingerprint.value).not.toBe(
      withoutBases.get('tools')!.fingerprint.value,
    );
  });
});
