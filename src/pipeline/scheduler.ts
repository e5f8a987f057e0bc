/**
 * A DAG scheduler: runs tasks parents-first, at most `concurrency` at once. A node whose parent
 * failed (or was skipped, or aborted) is skipped, while independent branches carry on. Aborting
 * the signal starts nothing new and aborts the running tasks through their own signals; the
 * scheduler still waits for every running task to settle, so nothing is left behind.
 *
 * Parents that are not nodes of this run (e.g. a recipe that is reused, not rebuilt) count as
 * satisfied. A node that waits on something else than this machine (a cross-region copy) can
 * run beside the others without taking one of the `concurrency` slots; a node that only waits
 * for part of its run (a bake while EC2 snapshots its stopped instance) gives its slot back for
 * that part, and takes one again, before any node not yet started, when it needs it. A node whose
 * result exists before its run ends (an image made while Packer still cleans up) may let its
 * dependents start then; if it fails afterwards, dependents not yet started are skipped. If that
 * result turns out unusable (an image that failed its launch test), the node stops its dependents:
 * every running descendant is aborted (its task cleans up) and reported skipped, with the reason.
 */
import { Dag, DagCycleError } from '../recipes/dag.js';

export interface DagNode<T> {
  id: string;
  /** Ids of nodes that must succeed before this one starts. */
  parents: string[];
  run(
    signal: AbortSignal,
    slot: Slot,
    unblockDependents: () => void,
    stopDependents: (reason: string) => void,
  ): Promise<T>;
  /** False: runs as soon as its parents allow, without taking one of the `concurrency` slots. */
  usesSlot?: boolean;
}

/** A running node's hold on one of the `concurrency` slots. */
export interface Slot {
  /** Gives the slot back while the node goes on running (no-op when it holds none). */
  release(): void;
  /** Takes a slot again (waiting for one); resolves at once if it holds one, or when the run is interrupted. */
  take(): Promise<void>;
}

export type NodeStatus = 'built' | 'failed' | 'skipped' | 'aborted';

export interface NodeOutcome<T> {
  id: string;
  status: NodeStatus;
  value?: T;
  error?: unknown;
  /** Why a node was skipped or aborted, in words ("parent web failed"). */
  reason?: string;
  /** Milliseconds the task ran; 0 for nodes that never started. */
  durationMs: number;
  /** Whether the task was started at all. */
  started: boolean;
}

export interface ScheduleOptions {
  concurrency: number;
  signal?: AbortSignal;
  /** Milliseconds clock for durations (tests substitute it). */
  now?: () => number;
  onStart?(id: string): void;
  onSettled?(outcome: NodeOutcome<unknown>): void;
}

/**
 * The abort reason of a node stopped because an ancestor's early result was unusable (not the
 * run's interruption): what it made on that result is to be discarded, not kept.
 */
export class StoppedByAncestor extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'StoppedByAncestor';
  }
}

/** A cycle among the nodes: refused before anything starts (it would wait forever). */
export { DagCycleError };

export async function runDag<T>(nodes: DagNode<T>[], options: ScheduleOptions): Promise<Map<string, NodeOutcome<T>>> {
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const now = options.now ?? (() => performance.now());
  const dag = new Dag(nodes);
  dag.assertAcyclic();

  const outcomes = new Map<string, NodeOutcome<T>>();
  // Running nodes that told the scheduler their dependents may start.
  const unblocked = new Set<string>();
  // Nodes that stopped their dependents (→ in words, why), and the dependents stopped (→ the reason they report).
  const withdrawn = new Map<string, string>();
  const stopped = new Map<string, string>();
  const running = new Map<string, AbortController>();
  const pending = new Set(nodes.map((node) => node.id));
  // Nodes holding a slot, and running nodes waiting to take one back (served before new nodes start).
  const holding = new Set<string>();
  const waitingForSlot: Array<{ id: string; grant: () => void }> = [];
  const settle = (outcome: NodeOutcome<T>) => {
    outcomes.set(outcome.id, outcome);
    pending.delete(outcome.id);
    options.onSettled?.(outcome as NodeOutcome<unknown>);
  };

  return new Promise((resolve) => {
    const onAbort = () => {
      for (const controller of running.values()) controller.abort(options.signal?.reason);
      for (const waiter of waitingForSlot.splice(0)) waiter.grant();
      pump();
    };
    const finish = () => {
      options.signal?.removeEventListener('abort', onAbort);
      resolve(outcomes);
    };

    const pump = () => {
      while (waitingForSlot.length && holding.size < concurrency) {
        const waiter = waitingForSlot.shift()!;
        holding.add(waiter.id);
        waiter.grant();
      }
      // Repeat until nothing changes: a skip can unblock (skip) a node visited earlier in the pass.
      let changed = true;
      while (changed) {
        changed = false;
        // Input order, so that among ready nodes the caller's order decides who starts first.
        for (const node of nodes) {
          if (!pending.has(node.id) || running.has(node.id)) continue;
          if (options.signal?.aborted) {
            settle({
              id: node.id,
              status: 'aborted',
              reason: 'run interrupted before it started',
              durationMs: 0,
              started: false,
            });
            changed = true;
            continue;
          }
          const parents = dag.parentsOf(node.id);
          const blocker = parents.find((p) => outcomes.has(p) && outcomes.get(p)!.status !== 'built');
          if (blocker) {
            const reason = `parent ${blocker} ${withdrawn.get(blocker) ?? outcomes.get(blocker)!.status}`;
            settle({ id: node.id, status: 'skipped', reason, durationMs: 0, started: false });
            changed = true;
            continue;
          }
          if (!parents.every((p) => outcomes.has(p) || unblocked.has(p))) continue;
          if (node.usesSlot !== false && (holding.size >= concurrency || waitingForSlot.length)) continue;
          start(node);
        }
      }
      if (pending.size === 0) finish();
    };

    const start = (node: DagNode<T>) => {
      const controller = new AbortController();
      running.set(node.id, controller);
      if (node.usesSlot !== false) holding.add(node.id);
      const slot: Slot = {
        release: () => {
          if (holding.delete(node.id)) pump();
        },
        take: () =>
          holding.has(node.id) || controller.signal.aborted || options.signal?.aborted || !running.has(node.id)
            ? Promise.resolve()
            : new Promise<void>((grant) => {
                waitingForSlot.push({ id: node.id, grant });
                pump();
              }),
      };
      const unblockDependents = () => {
        if (running.has(node.id) && !unblocked.has(node.id)) {
          unblocked.add(node.id);
          pump();
        }
      };
      const stopDependents = (reason: string) => {
        if (withdrawn.has(node.id)) return;
        withdrawn.set(node.id, reason);
        unblocked.delete(node.id);
        const children = new Set(dag.childrenOf(node.id));
        for (const id of dag.descendantsOf(node.id)) {
          const dependent = running.get(id);
          if (!dependent || stopped.has(id)) continue;
          const why = `${children.has(id) ? 'parent' : 'ancestor'} ${node.id} ${reason}`;
          stopped.set(id, why);
          dependent.abort(new StoppedByAncestor(why));
          // One waiting to take a slot back goes on at once, to clean up.
          const waiting = waitingForSlot.findIndex((waiter) => waiter.id === id);
          if (waiting >= 0) waitingForSlot.splice(waiting, 1)[0].grant();
        }
        pump();
      };
      options.onStart?.(node.id);
      const startedAt = now();
      // A task that throws synchronously is a failed task, not a crashed scheduler.
      Promise.resolve()
        .then(() => node.run(controller.signal, slot, unblockDependents, stopDependents))
        .then(
          (value) => ({ status: 'built' as const, value }),
          (error: unknown) => ({
            status: controller.signal.aborted ? ('aborted' as const) : ('failed' as const),
            error,
          }),
        )
        .then((result) => {
          running.delete(node.id);
          holding.delete(node.id);
          const stoppedFor = stopped.get(node.id);
          const status = stoppedFor && result.status !== 'built' ? 'skipped' : result.status;
          const reason = status === 'skipped' ? stoppedFor : status === 'aborted' ? 'run interrupted' : undefined;
          settle({ id: node.id, ...result, status, reason, durationMs: now() - startedAt, started: true });
          pump();
        });
    };

    options.signal?.addEventListener('abort', onAbort, { once: true });
    pump();
  });
}
