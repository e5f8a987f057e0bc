/**
 * The bench's scenario of a parent failing its launch test (src/bench/simulated-aws.ts), on a
 * small bakery: bake's real build, launch test and image removal over HTTP against the local
 * cloud in simulated AWS time, the stand-in Packer making Packer's EC2 calls. What the scenario
 * prints must be true: the children that started on the failed image are stopped, and nothing
 * of theirs, no instance and no copy is left in any region.
 */
import { describe, expect, it } from 'vitest';

// Simulated AWS, fast: a simulated hour in 11 s of this machine's time (read when the module loads).
process.env.BAKE_BENCH_TIME_SCALE = '0.003';
process.env.BAKE_BENCH_THROTTLE_SHRINK = '1';
const { leftoversOf, planAndBuild, withBenchCloud } = await import('../../src/bench/simulated-aws.js');

describe('the bench’s failing-launch-test scenario', () => {
  it('stops the children baking on the failed image, skips the rest, and leaves no instance, image, snapshot or copy', async () => {
    // base → web (long bake) → app; base → db (long bake); other, alone.
    const recipes = [
      { name: 'base', level: 0, provisionS: 60 },
      { name: 'other', level: 0, provisionS: 60 },
      { name: 'web', parent: 'base', level: 1, provisionS: 900 },
      { name: 'db', parent: 'base', level: 1, provisionS: 900 },
      { name: 'app', parent: 'web', level: 2, provisionS: 60 },
    ];
    await withBenchCloud(recipes, async (root, cloud) => {
      const run = await planAndBuild(root, cloud, recipes, () => {}, new Set(['base']));

      expect(Object.fromEntries(run.report.recipes.map((r) => [r.name, [r.status, r.error]]))).toEqual({
        base: ['failed', expect.stringMatching(/cloud-init reported an error/)],
        other: ['built', undefined],
        web: ['skipped', 'parent base failed its launch test'],
        db: ['skipped', 'parent base failed its launch test'],
        app: ['skipped', 'parent web skipped'],
      });
      // Both children were baking on base's image when its test failed: their Packers were interrupted.
      expect([...run.stopped.keys()].sort()).toEqual(['db', 'web']);
      expect(await leftoversOf(cloud, run.report, 'base')).toEqual({
        instances: [],
        images: [],
        snapshots: [],
        copies: [],
      });
      // The same look sees an image that is there: base's own, kept tagged failed (left out above as the failed one).
      expect((await leftoversOf(cloud, run.report, 'other')).images).toEqual([expect.stringMatching(/ \(base\)$/)]);
    });
  }, 120_000);
});
