import { describe, expect, it } from 'vitest';
import { DagCycleError, runDag, type DagNode, type Slot } from '../../src/pipeline/scheduler.js';

/** A task the test finishes by hand, so ordering is decided by the test, not by timers. */
class ManualTask {
  started = false;
  signal?: AbortSignal;
  private resolveRun!: (value: string) => void;
  private rejectRun!: (error: unknown) => void;
  private startedWaiters: Array<() => void> = [];
  slot?: Slot;
  unblockDependents?: () => void;
  stopDependents?: (reason: string) => void;
  readonly run = (
    signal: AbortSignal,
    slot: Slot,
    unblockDependents: () => void,
    stopDependents: (reason: string) => void,
  ): Promise<string> => {
    this.started = true;
    this.stopDependents = stopDependents;
    this.signal = signal;
    this.slot = slot;
    this.unblockDependents = unblockDependents;
    for (const waiter of this.startedWaiters) waiter();
    return new Promise((resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
      signal.addEventListener('abort', () => reject(new Error('aborted')));
    });
  };
  whenStarted(): Promise<void> {
    return this.started ? Promise.resolve() : new Promise((resolve) => this.startedWaiters.push(resolve));
  }
  succeed(value = 'ok') {
    this.resolveRun(value);
  }
  fail(message = 'boom') {
    this.rejectRun(new Error(message));
  }
}

function graph(edges: Record<string, string[]>) {
  const tasks = Object.fromEntries(Object.keys(edges).map((id) => [id, new ManualTask()]));
  const nodes: DagNode<string>[] = Object.entries(edges).map(([id, parents]) => ({ id, parents, run: tasks[id].run }));
  return { tasks, nodes };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('runDag', () => {
  it('starts a child only after its parent has built', async () => {
    const { tasks, nodes } = graph({ web: ['base'], base: [] });
    const order: string[] = [];
    const done = runDag(nodes, { concurrency: 4, onStart: (id) => order.push(id) });
    await tasks.base.whenStarted();
    await settle();
    expect(tasks.web.started).toBe(false);
    tasks.base.succeed('ami-base');
    await tasks.web.whenStarted();
    tasks.web.succeed('ami-web');
    const outcomes = await done;
    expect(order).toEqual(['base', 'web']);
    expect(outcomes.get('base')).toMatchObject({ status: 'built', value: 'ami-base' });
    expect(outcomes.get('web')).toMatchObject({ status: 'built', value: 'ami-web' });
  });

  it('never runs more than N tasks at once and uses all N slots', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    let inFlight = 0;
    let peak = 0;
    const gates = ids.map(() => {
      let open!: () => void;
      return { promise: new Promise<void>((resolve) => (open = resolve)), open: () => open() };
    });
    const nodes: DagNode<string>[] = ids.map((id, i) => ({
      id,
      parents: [],
      run: async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await gates[i].promise;
        inFlight--;
        return id;
      },
    }));
    const done = runDag(nodes, { concurrency: 2 });
    for (const gate of gates) {
      await settle();
      gate.open();
    }
    const outcomes = await done;
    expect(peak).toBe(2);
    expect([...outcomes.values()].every((o) => o.status === 'built')).toBe(true);
  });

  it('runs a node that takes no slot beside a full set of slots, and its children wait for it', async () => {
    const { tasks, nodes } = graph({ base: [], copy: ['base'], other: [], child: ['copy'] });
    nodes.find((n) => n.id === 'copy')!.usesSlot = false;
    const done = runDag(nodes, { concurrency: 1 });
    await tasks.base.whenStarted();
    tasks.base.succeed();
    await tasks.copy.whenStarted();
    await tasks.other.whenStarted();
    await settle();
    expect(tasks.child.started).toBe(false);
    tasks.other.succeed();
    await settle();
    expect(tasks.child.started).toBe(false);
    tasks.copy.succeed();
    await tasks.child.whenStarted();
    tasks.child.succeed();
    expect([...(await done).values()].map((o) => o.status)).toEqual(['built', 'built', 'built', 'built']);
  });

  it('starts the next node when a running one gives its slot back, and serves that one first when it wants a slot again', async () => {
    const { tasks, nodes } = graph({ a: [], b: [], c: [] });
    const done = runDag(nodes, { concurrency: 1 });
    await tasks.a.whenStarted();
    await settle();
    expect(tasks.b.started).toBe(false);
    // a waits for EC2 now (its instance is stopped): b may run.
    tasks.a.slot!.release();
    await tasks.b.whenStarted();
    // a needs a machine again (a launch test): it gets the next free slot, before c starts.
    let aHasSlot = false;
    void tasks.a.slot!.take().then(() => (aHasSlot = true));
    await settle();
    expect(aHasSlot).toBe(false);
    tasks.b.succeed();
    await settle();
    expect(aHasSlot).toBe(true);
    expect(tasks.c.started).toBe(false);
    tasks.a.succeed();
    await tasks.c.whenStarted();
    tasks.c.succeed();
    expect([...(await done).values()].map((o) => o.status)).toEqual(['built', 'built', 'built']);
  });

  it('starts dependents when a running node unblocks them, before it settles', async () => {
    const { tasks, nodes } = graph({ base: [], web: ['base'] });
    const done = runDag(nodes, { concurrency: 2 });
    await tasks.base.whenStarted();
    await settle();
    expect(tasks.web.started).toBe(false);
    // base's image is finished while its Packer still cleans up.
    tasks.base.unblockDependents!();
    await tasks.web.whenStarted();
    tasks.web.succeed();
    await settle();
    tasks.base.succeed();
    const outcomes = await done;
    expect(outcomes.get('base')).toMatchObject({ status: 'built' });
    expect(outcomes.get('web')).toMatchObject({ status: 'built' });
  });

  it('skips a dependent not yet started when the node that unblocked it fails afterwards; a started one goes on', async () => {
    const { tasks, nodes } = graph({ base: [], web: ['base'], api: ['base'] });
    const done = runDag(nodes, { concurrency: 2 });
    await tasks.base.whenStarted();
    tasks.base.unblockDependents!();
    // One slot left: web starts, api waits for it.
    await tasks.web.whenStarted();
    await settle();
    expect(tasks.api.started).toBe(false);
    tasks.base.fail('packer exited 1 after its image was made');
    await settle();
    expect(tasks.api.started).toBe(false);
    tasks.web.succeed();
    const outcomes = await done;
    expect(outcomes.get('base')).toMatchObject({ status: 'failed' });
    expect(outcomes.get('web')).toMatchObject({ status: 'built' });
    expect(outcomes.get('api')).toMatchObject({ status: 'skipped', reason: 'parent base failed', started: false });
  });

  it('lets a node waiting to take a slot back go on when the run is interrupted', async () => {
    const { tasks, nodes } = graph({ a: [], b: [] });
    const controller = new AbortController();
    const done = runDag(nodes, { concurrency: 1, signal: controller.signal });
    await tasks.a.whenStarted();
    tasks.a.slot!.release();
    await tasks.b.whenStarted();
    const taken = tasks.a.slot!.take();
    controller.abort();
    await taken;
    expect([...(await done).values()].map((o) => o.status)).toEqual(['aborted', 'aborted']);
  });

  it('skips the descendants of a failed node while an independent sibling still builds', async () => {
    const { tasks, nodes } = graph({ base: [], web: ['base'], 'web-canary': ['web'], db: [] });
    const done = runDag(nodes, { concurrency: 2 });
    await tasks.base.whenStarted();
    await tasks.db.whenStarted();
    tasks.base.fail('packer exited 1');
    await settle();
    tasks.db.succeed();
    const outcomes = await done;
    expect(outcomes.get('base')).toMatchObject({ status: 'failed' });
    expect((outcomes.get('base')!.error as Error).message).toBe('packer exited 1');
    expect(outcomes.get('web')).toMatchObject({ status: 'skipped', reason: 'parent base failed', durationMs: 0 });
    expect(outcomes.get('web-canary')).toMatchObject({ status: 'skipped', reason: 'parent web skipped' });
    expect(outcomes.get('db')).toMatchObject({ status: 'built' });
    expect(tasks.web.started).toBe(false);
  });

  it('skips descendants listed before their failed ancestor', async () => {
    const { tasks, nodes } = graph({ 'web-canary': ['web'], web: ['base'], base: [] });
    const done = runDag(nodes, { concurrency: 1 });
    await tasks.base.whenStarted();
    tasks.base.fail();
    const outcomes = await done;
    expect(outcomes.get('web-canary')!.status).toBe('skipped');
    expect(outcomes.get('web')!.status).toBe('skipped');
  });

  it('treats parents outside the run (reused images) as ready', async () => {
    const { tasks, nodes } = graph({ web: ['base-reused'] });
    const done = runDag(nodes, { concurrency: 1 });
    await tasks.web.whenStarted();
    tasks.web.succeed();
    expect((await done).get('web')!.status).toBe('built');
  });

  it('on abort starts nothing new, aborts running tasks and waits for them', async () => {
    const { tasks, nodes } = graph({ base: [], db: [], web: ['base'], cache: [] });
    const controller = new AbortController();
    const done = runDag(nodes, { concurrency: 2, signal: controller.signal });
    await tasks.base.whenStarted();
    await tasks.db.whenStarted();
    controller.abort();
    const outcomes = await done;
    expect(tasks.base.signal!.aborted).toBe(true);
    expect(tasks.db.signal!.aborted).toBe(true);
    expect(outcomes.get('base')!.status).toBe('aborted');
    expect(outcomes.get('db')!.status).toBe('aborted');
    expect(outcomes.get('web')).toMatchObject({ status: 'aborted', durationMs: 0, started: false });
    expect(outcomes.get('cache')).toMatchObject({ status: 'aborted', durationMs: 0 });
    expect(tasks.web.started || tasks.cache.started).toBe(false);
  });

  it('records how long each task ran with the given clock', async () => {
    let clock = 1000;
    const nodes: DagNode<string>[] = [{ id: 'base', parents: [], run: async () => ((clock += 2500), 'x') }];
    const outcomes = await runDag(nodes, { concurrency: 1, now: () => clock });
    expect(outcomes.get('base')!.durationMs).toBe(2500);
  });

  it('turns a task that throws synchronously into a failed node', async () => {
    const nodes: DagNode<string>[] = [
      {
        id: 'base',
        parents: [],
        run: () => {
          throw new Error('sync');
        },
      },
    ];
    expect((await runDag(nodes, { concurrency: 1 })).get('base')!.status).toBe('failed');
  });

  it('refuses a cycle', async () => {
    const { nodes } = graph({ a: ['b'], b: ['a'] });
    await expect(runDag(nodes, { concurrency: 1 })).rejects.toBeInstanceOf(DagCycleError);
  });

  it('finishes at once with no nodes', async () => {
    expect((await runDag([], { concurrency: 2 })).size).toBe(0);
  });
});

describe('runDag: a node that stops its dependents', () => {
  it('aborts running descendants, reports them skipped with the reason, and skips the ones not started', async () => {
    const { tasks, nodes } = graph({ base: [], web: ['base'], app: ['web'], db: ['base'], other: [] });
    const outcomes = runDag(nodes, { concurrency: 5 });
    await tasks.base.whenStarted();
    tasks.base.unblockDependents!();
    await tasks.web.whenStarted();
    await tasks.db.whenStarted();
    tasks.web.unblockDependents!();
    await tasks.app.whenStarted();
    await tasks.other.whenStarted();
    tasks.base.stopDependents!('failed its launch test');
    expect([tasks.web.signal!.aborted, tasks.app.signal!.aborted, tasks.db.signal!.aborted]).toEqual([
      true,
      true,
      true,
    ]);
    expect(tasks.other.signal!.aborted).toBe(false);
    tasks.base.fail('launch test failed');
    tasks.other.succeed();
    const result = await outcomes;
    expect([...result.values()].map((o) => [o.id, o.status, o.reason, o.started])).toEqual(
      expect.arrayContaining([
        ['web', 'skipped', 'parent base failed its launch test', true],
        ['db', 'skipped', 'parent base failed its launch test', true],
        ['app', 'skipped', 'ancestor base failed its launch test', true],
        ['base', 'failed', undefined, true],
        ['other', 'built', undefined, true],
      ]),
    );
  });

  it('gives the withdrawal reason to a child that had not started yet, and lets none start meanwhile', async () => {
    const { tasks, nodes } = graph({ base: [], web: ['base'], busy: [] });
    const outcomes = runDag(nodes, { concurrency: 2 });
    await tasks.busy.whenStarted();
    tasks.base.unblockDependents!();
    tasks.base.stopDependents!('failed its launch test');
    tasks.busy.succeed();
    await settle();
    expect(tasks.web.started).toBe(false);
    tasks.base.fail();
    expect((await outcomes).get('web')).toMatchObject({
      status: 'skipped',
      reason: 'parent base failed its launch test',
      started: false,
    });
  });

  it('lets a stopped node waiting to take a slot back go on at once, to clean up', async () => {
    const { tasks, nodes } = graph({ base: [], web: ['base'] });
    const outcomes = runDag(nodes, { concurrency: 1 });
    await tasks.base.whenStarted();
    tasks.base.slot!.release();
    tasks.base.unblockDependents!();
    await tasks.web.whenStarted();
    tasks.web.slot!.release();
    const webTakes = tasks.web.slot!.take();
    // base holds the slot again (it took it first): web waits, until base stops it.
    await settle();
    tasks.base.stopDependents!('failed its launch test');
    await webTakes;
    tasks.base.fail();
    expect((await outcomes).get('web')!.status).toBe('skipped');
  });
});
