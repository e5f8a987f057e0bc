import { describe, expect, it } from 'vitest';
import {
  buildNodes,
  distributionNodeOf,
  longestChainFirst,
  recipeOutcomeOf,
  type RecipeSteps,
} from '../../src/pipeline/build-nodes.js';
import type { BuiltImage, PlannedRecipe } from '../../src/pipeline/build-run.js';
import { runDag } from '../../src/pipeline/scheduler.js';
import type { BaseImage } from '../../src/recipes/model.js';
import { recipeOf } from './bakery.js';

const root = '/bakery';
const parentOf = (entry: PlannedRecipe) => entry.parent;

function entry(name: string, extra: Partial<PlannedRecipe> & { regions?: string[] } = {}): PlannedRecipe {
  const { regions = ['us-east-1'], ...rest } = extra;
  const base: BaseImage = rest.parent ? { kind: 'recipe', recipe: rest.parent } : { kind: 'ami', ami: 'ami-0debian12' };
  return {
    name,
    recipe: recipeOf(root, name, base, { regions }),
    action: 'build',
    reasons: ['never built'],
    fingerprint: `fp-${name}`,
    amis: {},
    ...rest,
  };
}

/** Steps that record what ran and finish at once. */
function recordingSteps() {
  const ran: string[] = [];
  const steps: RecipeSteps = {
    bake: async (e) => {
      ran.push(`bake ${e.name}`);
      return { amis: { 'us-east-1': `ami-${e.name}` } };
    },
    distribute: async (e) => {
      ran.push(`distribute ${e.name}`);
      return { amis: { 'us-east-1': `ami-${e.name}` } };
    },
  };
  return { ran, steps };
}

const parentsOf = (plan: PlannedRecipe[]) =>
  Object.fromEntries(buildNodes(plan, parentOf, recordingSteps().steps).nodes.map((n) => [n.id, n.parents]));

describe('buildNodes: what each step waits for', () => {
  it('gives each recipe built a bake and a distribution after it; a root bake waits for nothing', () => {
    expect(parentsOf([entry('base')])).toEqual({ base: [], [distributionNodeOf('base')]: ['base'] });
  });

  it("makes a child's bake wait for its parent's bake when both build in the same region", () => {
    expect(parentsOf([entry('base'), entry('web', { parent: 'base' })]).web).toEqual(['base']);
  });

  it("makes a child that builds in another region wait for its parent's bake and distribution (the copy brings the image)", () => {
    const plan = [
      entry('base', { regions: ['us-east-1', 'eu-west-1'] }),
      entry('web', { parent: 'base', regions: ['eu-west-1'] }),
    ];
    expect(parentsOf(plan).web).toEqual(['base', distributionNodeOf('base')]);
  });

  it('starts a child built in another region once the copy there is available, before the distribution ends', async () => {
    const order: string[] = [];
    let publish!: () => void;
    const steps: RecipeSteps = {
      bake: async (e, _signal, _slot, { imageFinished }) => {
        order.push(`bake ${e.name}`);
        imageFinished();
        return { amis: {} } as BuiltImage;
      },
      distribute: async (e, _signal, { childRegions, copiesReady }) => {
        if (e.name !== 'base') return { amis: {} };
        order.push(`copies of base to ${childRegions.join(', ')} available`);
        copiesReady();
        // Publishing waits for the launch test: the distribution ends only when the test says so.
        await new Promise<void>((resolve) => (publish = resolve));
        order.push('base published');
        return { amis: {} };
      },
    };
    const plan = [
      entry('base', { regions: ['us-east-1', 'eu-west-1', 'us-west-2'] }),
      entry('web', { parent: 'base', regions: ['eu-west-1'] }),
      entry('db', { parent: 'base', regions: ['us-west-2'] }),
      entry('app', { parent: 'base' }),
    ];
    const done = runDag(buildNodes(plan, parentOf, steps).nodes, { concurrency: 4 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(order.filter((line) => line !== 'bake app')).toEqual([
      'bake base',
      'copies of base to eu-west-1, us-west-2 available',
      'bake web',
      'bake db',
    ]);
    publish();
    await done;
  });

  it('lets a child of a reused parent start at once (a parent that is no node counts as satisfied)', () => {
    const nodes = buildNodes(
      [entry('base', { action: 'reuse', amis: { 'us-east-1': 'ami-old' } }), entry('web', { parent: 'base' })],
      parentOf,
      recordingSteps().steps,
    );
    expect(nodes.nodes.map((n) => n.id)).toEqual(['web', distributionNodeOf('web')]);
    expect(nodes.nodes[0].parents).toEqual(['base']);
  });

  it('gives a distribute-only recipe no bake, and its child waits for nothing: the image is in its build region', () => {
    const plan = [
      entry('base', { distributeOnly: { region: 'us-east-1', ami: 'ami-base' } }),
      entry('web', { parent: 'base' }),
    ];
    const parents = parentsOf(plan);
    expect(parents).not.toHaveProperty('base');
    expect(parents[distributionNodeOf('base')]).toEqual([]);
    expect(parents.web).toEqual([]);
  });

  it('maps every node back to its recipe and tells bakes from distributions', () => {
    const nodes = buildNodes([entry('base')], parentOf, recordingSteps().steps);
    expect(nodes.recipeOf(distributionNodeOf('base')).name).toBe('base');
    expect(nodes.isBake('base')).toBe(true);
    expect(nodes.isBake(distributionNodeOf('base'))).toBe(false);
  });

  it("starts a child as soon as its parent's bake reports the image finished, before that bake returns", async () => {
    const order: string[] = [];
    let finishBase!: () => void;
    const steps: RecipeSteps = {
      bake: async (e, _signal, _slot, { imageFinished }) => {
        order.push(`bake ${e.name} started`);
        if (e.name === 'base') {
          imageFinished();
          // Packer's cleanup: the bake returns only when the test says so.
          await new Promise<void>((resolve) => (finishBase = resolve));
        }
        order.push(`bake ${e.name} done`);
        return { amis: {} } as BuiltImage;
      },
      distribute: async () => ({ amis: {} }),
    };
    const { nodes } = buildNodes([entry('base'), entry('web', { parent: 'base' })], parentOf, steps);
    const done = runDag(nodes, { concurrency: 2 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['bake base started', 'bake web started', 'bake web done']);
    finishBase();
    await done;
    expect(order.at(-1)).toBe('bake base done');
  });

  it('runs the steps it was given, parents first, every distribution after its bake', async () => {
    const { ran, steps } = recordingSteps();
    const { nodes } = buildNodes([entry('base'), entry('web', { parent: 'base' })], parentOf, steps);
    await runDag(nodes, { concurrency: 1 });
    expect(ran.indexOf('bake base')).toBeLessThan(ran.indexOf('bake web'));
    expect(ran.indexOf('bake base')).toBeLessThan(ran.indexOf('distribute base'));
    expect(ran.indexOf('bake web')).toBeLessThan(ran.indexOf('distribute web'));
  });
});

describe('longestChainFirst: who gets a slot first', () => {
  const names = (plan: PlannedRecipe[]) => longestChainFirst(plan, parentOf).map((e) => e.name);

  it('orders by the sum of last bake times down the longest chain of descendants', () => {
    // quick's chain: 60 + 60 = 120 s; slow's: 100 + 500 = 600 s.
    const plan = [
      entry('quick', { lastBakeSeconds: 60 }),
      entry('slow', { lastBakeSeconds: 100 }),
      entry('quick-child', { parent: 'quick', lastBakeSeconds: 60 }),
      entry('child', { parent: 'slow', lastBakeSeconds: 500 }),
    ];
    expect(names(plan)).toEqual(['slow', 'child', 'quick', 'quick-child']);
  });

  it('counts a recipe never baked as a typical one (the median of the known durations)', () => {
    // new has no duration: it counts 300 s (the median of 50, 300, 350), so its chain (300 + 300) beats solo's 350.
    const plan = [
      entry('solo', { lastBakeSeconds: 350 }),
      entry('new'),
      entry('leaf', { parent: 'new', lastBakeSeconds: 300 }),
      entry('other', { lastBakeSeconds: 50 }),
    ];
    expect(names(plan)).toEqual(['new', 'solo', 'leaf', 'other']);
  });

  it('with no durations known, orders by height and keeps the plan order among equals', () => {
    const plan = [entry('a'), entry('b'), entry('c', { parent: 'b' }), entry('d', { parent: 'c' })];
    expect(names(plan)).toEqual(['b', 'c', 'a', 'd']);
  });
});

describe("recipeOutcomeOf: a recipe's outcome from its two steps", () => {
  const built = (id: string, value: BuiltImage, durationMs = 1000) =>
    ({ id, status: 'built', value, durationMs, started: true }) as const;

  it('is undecided until the distribution settles after a built bake', () => {
    const bake = built('base', { amis: { 'us-east-1': 'ami-1' } });
    expect(recipeOutcomeOf(entry('base'), { bake })).toBeUndefined();
  });

  it("is the bake's failure even when the distribution already started on the finished image", () => {
    const bake = { id: 'base', status: 'failed', error: new Error('cleanup'), durationMs: 5, started: true } as const;
    const distribution = built(distributionNodeOf('base'), { amis: { 'us-east-1': 'ami-1' } });
    expect(recipeOutcomeOf(entry('base'), { bake, distribution })).toMatchObject({ id: 'base', status: 'failed' });
  });

  it("is the distribution's images with the bake's launch test, timed from the first step's start", () => {
    const launchTest = { status: 'passed' } as BuiltImage['launchTest'];
    const bake = built('base', { amis: { 'us-east-1': 'ami-1' }, launchTest }, 4000);
    const distribution = built(
      distributionNodeOf('base'),
      { amis: { 'us-east-1': 'ami-1', 'eu-west-1': 'ami-2' } },
      3000,
    );
    expect(recipeOutcomeOf(entry('base'), { bake, distribution }, 5000)).toMatchObject({
      id: 'base',
      status: 'built',
      durationMs: 5000,
      value: { amis: { 'eu-west-1': 'ami-2' }, launchTest },
    });
    expect(recipeOutcomeOf(entry('base'), { bake, distribution })?.durationMs).toBe(7000);
  });

  it('is the distribution alone for a distribute-only recipe', () => {
    const distribution = built(distributionNodeOf('base'), { amis: { 'us-east-1': 'ami-1' } });
    const only = entry('base', { distributeOnly: { region: 'us-east-1', ami: 'ami-1' } });
    expect(recipeOutcomeOf(only, { distribution })).toMatchObject({ id: 'base', status: 'built' });
  });
});
