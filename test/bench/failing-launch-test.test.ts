/**
 * The bench's scenario of a parent failing its launch test (src/bench/simulated-aws.ts), on a
 * small bakery: bake's real build, launch test and image removal over HTTP against the local
 * cloud in simulated AWS time, the stand-in Packer making Packer's EC2 calls. What the scenario
 * prints must be true: the children that started on the failed image (or on its copy in another
 * region) are stopped, and nothing of theirs, no instance and no copy — made or still in flight —
 * is left in any region.
 */
import { describe, expect, it } from 'vitest';

// Simulated AWS, fast: a simulated hour in 36 s of this machine's time (read when the module loads). What this
// test needs before base fails (quick's image made and copying, eu started from base's copy) happens ~1,000
// simulated seconds (10 s of this machine's time) earlier, and the long bakes are still running then.
process.env.BAKE_BENCH_TIME_SCALE = '0.01';
process.env.BAKE_BENCH_THROTTLE_SHRINK = '1';
const { leftoversOf, planAndBuild, withBenchCloud } = await import('../../src/bench/simulated-aws.js');

describe('the bench’s failing-launch-test scenario', () => {
  it('stops the children baking on the failed image or its copy, skips the rest, and leaves no instance, image, snapshot or copy', async () => {
    // base → web (long bake) → app; base → db (long bake); base → quick (short bake: its image is made, and
    // copied, during base's long launch test); base → eu (built in eu-west-1, from base's copy there, which
    // is available long before base's test fails); other, alone. (A copy still pending when a test fails:
    // test/pipeline/speculative-copies.test.ts.)
    const recipes = [
      { name: 'base', level: 0, provisionS: 60, cloudInitS: 1500 },
      { name: 'other', level: 0, provisionS: 60 },
      { name: 'web', parent: 'base', level: 1, provisionS: 3000 },
      { name: 'db', parent: 'base', level: 1, provisionS: 3000 },
      { name: 'quick', parent: 'base', level: 1, provisionS: 60 },
      { name: 'eu', parent: 'base', level: 1, provisionS: 3000, regions: ['eu-west-1', 'us-east-1'] },
      { name: 'app', parent: 'web', level: 2, provisionS: 60 },
    ];
    await withBenchCloud(recipes, async (root, cloud) => {
      const run = await planAndBuild(root, cloud, recipes, () => {}, new Set(['base']));

      expect(Object.fromEntries(run.report.recipes.map((r) => [r.name, [r.status, r.error]]))).toEqual({
        base: ['failed', expect.stringMatching(/cloud-init reported an error/)],
        other: ['built', undefined],
        web: ['skipped', 'parent base failed its launch test'],
        db: ['skipped', 'parent base failed its launch test'],
        quick: ['skipped', 'parent base failed its launch test'],
        eu: ['skipped', 'parent base failed its launch test'],
        app: ['skipped', 'parent web skipped'],
      });
      // Three children were baking on base's image or its copy when its test failed: their Packers were
      // interrupted (quick's had ended: its image was made, and copied).
      expect([...run.stopped.keys()].sort()).toEqual(['db', 'eu', 'web']);
      // Copies to the three other regions each: other's, and base's and quick's, made during base's launch test.
      expect(run.calls.get('CopyImage')).toBe(9);
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
