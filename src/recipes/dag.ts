/**
 * The walking every directed acyclic graph in bake shares: recipes built FROM recipes
 * (src/recipes/graph.ts), a plan's entries, the build's steps (src/pipeline/scheduler.ts) and
 * the report's picture. Nodes are ids with parents; parents that are not nodes count as absent
 * (a reused recipe is not a step of the build, a parent outside the plan is not in its waves).
 *
 * A graph read from user files may have a cycle until it is validated: every walk here stops
 * at one instead of looping, and `cycleThrough` / `firstCycle` name it.
 */

export interface DagEntry {
  id: string;
  parents: readonly string[];
}

export class DagCycleError extends Error {
  constructor(readonly cycle: string[]) {
    super(`cycle: ${cycle.join(' → ')}`);
    this.name = 'DagCycleError';
  }
}

export class Dag {
  /** In the order given: among nodes of one depth, this order decides. */
  readonly ids: readonly string[];
  private readonly parents = new Map<string, string[]>();
  private readonly children = new Map<string, string[]>();
  private depths?: Map<string, number>;
  private heights?: Map<string, number>;
  private ordered?: string[];

  constructor(entries: Iterable<DagEntry>) {
    const list = [...entries];
    this.ids = list.map((entry) => entry.id);
    for (const id of this.ids) this.children.set(id, []);
    for (const entry of list) {
      const parents = [...new Set(entry.parents)].filter((parent) => this.children.has(parent));
      this.parents.set(entry.id, parents);
      for (const parent of parents) this.children.get(parent)!.push(entry.id);
    }
  }

  has(id: string): boolean {
    return this.parents.has(id);
  }

  /** The parents that are nodes of this graph. */
  parentsOf(id: string): readonly string[] {
    return this.parents.get(id) ?? [];
  }

  childrenOf(id: string): readonly string[] {
    return this.children.get(id) ?? [];
  }

  /** 0 for a node without parents, else one more than its deepest parent. */
  depthOf(id: string): number {
    this.depths ??= this.chainLengths((node) => this.parentsOf(node));
    return (this.depths.get(id) ?? 1) - 1;
  }

  /** Nodes by depth: level 0 has no parent here; each node comes after all its parents' levels. */
  levels(): string[][] {
    const levels: string[][] = [];
    for (const id of this.ids) (levels[this.depthOf(id)] ??= []).push(id);
    return levels.filter(Boolean);
  }

  /** Parents before children; in the given order within a level. */
  order(): string[] {
    this.ordered ??= this.levels().flat();
    return [...this.ordered];
  }

  /** Every ancestor, parents before children (the root first). */
  ancestorsOf(id: string): string[] {
    const found = new Set<string>();
    const queue = [...this.parentsOf(id)];
    while (queue.length) {
      const next = queue.shift()!;
      if (next === id || found.has(next)) continue;
      found.add(next);
      queue.push(...this.parentsOf(next));
    }
    this.ordered ??= this.levels().flat();
    return this.ordered.filter((node) => found.has(node));
  }

  /** Every descendant, breadth first: children before grandchildren. */
  descendantsOf(id: string): string[] {
    const found: string[] = [];
    const seen = new Set([id]);
    const queue = [id];
    while (queue.length) {
      for (const child of this.childrenOf(queue.shift()!)) {
        if (seen.has(child)) continue;
        seen.add(child);
        found.push(child);
        queue.push(child);
      }
    }
    return found;
  }

  /** The number of nodes on the longest chain from this node down to a leaf (1 for a leaf). */
  heightOf(id: string): number {
    this.heights ??= this.chainLengths((node) => this.childrenOf(node));
    return this.heights.get(id) ?? 1;
  }

  /** Per node, the number of nodes on the longest chain that starts at it and follows `next`. */
  private chainLengths(next: (id: string) => readonly string[]): Map<string, number> {
    const lengths = new Map<string, number>();
    const visiting = new Set<string>();
    const length = (node: string): number => {
      const known = lengths.get(node);
      if (known !== undefined) return known;
      visiting.add(node);
      // A node still being visited closes a cycle: that edge is ignored rather than followed forever.
      const value = 1 + Math.max(0, ...next(node).filter((other) => !visiting.has(other)).map(length));
      visiting.delete(node);
      lengths.set(node, value);
      return value;
    };
    for (const id of this.ids) length(id);
    return lengths;
  }

  /** The way back to `id` through its parents, starting and ending at it (`a → b → a`); undefined when it is on no cycle. */
  cycleThrough(id: string): string[] | undefined {
    const seen = new Set<string>();
    const walk = (node: string, trail: string[]): string[] | undefined => {
      for (const parent of this.parentsOf(node)) {
        if (parent === id) return [...trail, id];
        if (seen.has(parent)) continue;
        seen.add(parent);
        const found = walk(parent, [...trail, parent]);
        if (found) return found;
      }
      return undefined;
    };
    return walk(id, [id]);
  }

  /** A cycle of the graph, if it has one (the first node in order that is on one). */
  firstCycle(): string[] | undefined {
    // Kahn's algorithm leaves exactly the nodes on a cycle or below one; only those are searched.
    const waiting = new Map(this.ids.map((id) => [id, this.parentsOf(id).length]));
    const ready = this.ids.filter((id) => waiting.get(id) === 0);
    while (ready.length) {
      const next = ready.pop()!;
      waiting.delete(next);
      for (const child of this.childrenOf(next)) {
        const left = waiting.get(child)! - 1;
        waiting.set(child, left);
        if (left === 0) ready.push(child);
      }
    }
    for (const id of this.ids) {
      if (!waiting.has(id)) continue;
      const cycle = this.cycleThrough(id);
      if (cycle) return cycle;
    }
    return undefined;
  }

  assertAcyclic(): void {
    const cycle = this.firstCycle();
    if (cycle) throw new DagCycleError(cycle);
  }
}
