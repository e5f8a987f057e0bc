/** Fingerprints of recipes loaded from YAML by the real loader: the parsed values count, not the text. */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { hashedContentIds } from '../../src/fingerprint/content-ids.js';
import { planBakery } from '../../src/pipeline/plan.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/fingerprint/', import.meta.url));
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** web's fingerprint in a copy of the fixture bakery whose recipes/web.yaml is replaced by `webFile`. */
async function webFingerprint(webFile?: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bake-format-'));
  dirs.push(dir);
  await cp(path.join(FIXTURES, 'bakery'), dir, { recursive: true });
  if (webFile) await cp(path.join(FIXTURES, webFile), path.join(dir, 'recipes/web.yaml'));
  const bakery = await loadBakery(dir);
  const plan = await planBakery(bakery, bakery.recipes, {
    catalog: { listBakedImages: async () => [] },
    records: { read: async () => new Map() },
    resolveBase: async () => 'ami-0123456789abcdef0',
    contentIds: hashedContentIds(dir),
  });
  return plan.recipes.find((r) => r.name === 'web')!.fingerprint;
}

describe('a fingerprint of a recipe loaded from YAML', () => {
  it('stays the same when keys are reordered, comments added and quoting or flow style changed', async () => {
    expect(await webFingerprint('web.reformatted.yaml')).toBe(await webFingerprint());
  });

  it('changes when a value changes', async () => {
    expect(await webFingerprint('web.bigger.yaml')).not.toBe(await webFingerprint());
  });
});
