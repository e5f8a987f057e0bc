import { describe, expect, it } from 'vitest';
import { Dag, DagCycleError } from '../../src/recipes/dag.js';

/** `{ child: [parents] }` → a Dag, in the order written. */
const dag = (parents: Record<string, string[]>) => new Dag(Object.entries(parents).map(([id, p]) => ({ id, parents: p })));

describe('a DAG of ids and parents', () => {
  // a build's steps: each recipe's bake, then its distribution; web waits for base's distribution
  const steps = dag({ 'web dist': ['web'], web: ['base dist'], 'base dist': ['base'], base: [], tools: [] });

  it('orders every node after all its parents, in the given order within a level', () => {
    expect(steps.levels()).toEqual([['base', 'tools'], ['base dist'], ['web'], ['web dist']]);
    expect(steps.order()).toEqual(['base', 'tools', 'base dist', 'web', 'web dist']);
  });

  it('puts a node with two parents one level below the deeper one', () => {
    const two = dag({ c: ['a', 'b'], b: ['a'], a: [] });
    expect(two.depthOf('c')).toBe(2);
    expect(two.ancestorsOf('c')).toEqual(['a', 'b']);
    expect(two.descendantsOf('a')).toEqual(['c', 'b']);
  });

  it('ignores parents that are not nodes (a reused recipe is not a step)', () => {
    const partial = dag({ web: ['base'], api: ['web'] });
    expect(partial.parentsOf('web')).toEqual([]);
    expect(partial.levels()).toEqual([['web'], ['api']]);
    expect(partial.firstCycle()).toBeUndefined();
  });

  it('measures the longest chain from a node down to a leaf', () => {
    expect(steps.heightOf('base')).toBe(4);
    expect(steps.heightOf('tools')).toBe(1);
  });

  it('names a cycle going round from the first node on it, and refuses it', () => {
    const looping = dag({ start: [], a: ['start', 'c'], b: ['a'], c: ['b'], below: ['c'] });
    expect(looping.firstCycle()).toEqual(['a', 'c', 'b', 'a']);
    expect(looping.cycleThrough('below')).toBeUndefined();
    expect(() => looping.assertAcyclic()).toThrow(DagCycleError);
    expect(() => looping.assertAcyclic()).toThrow('cycle: a → c → b → a');
  });

  it('finds a node that is its own parent', () => {
    expect(dag({ a: ['a'] }).firstCycle()).toEqual(['a', 'a']);
  });

  it('walks a cyclic graph without looping', () => {
    const looping = dag({ a: ['b'], b: ['a'] });
    expect(looping.levels().flat().sort()).toEqual(['a', 'b']);
    expect(looping.ancestorsOf('a')).toEqual(['b']);
    expect(looping.descendantsOf('a')).toEqual(['b']);
  });
});
