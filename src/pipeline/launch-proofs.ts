/**
 * Which of a run's new images are proven: the image passed its launch test (or has none), and so
 * did its parent's, all the way up the chain. Children start on a parent's finished image while
 * the parent's launch test still runs; what is built on it waits here before anything that must
 * only happen to a proven image (its own launch test's `passed`, copies, sharing, pinning).
 */

interface Proof {
  settled: Promise<boolean>;
  settle(passed: boolean): void;
}

function proof(): Proof {
  let settle!: (passed: boolean) => void;
  const settled = new Promise<boolean>((resolve) => (settle = resolve));
  return { settled, settle };
}

export class LaunchProofs {
  private readonly proofs: Map<string, Proof>;

  /** `baked`: the recipes whose images this run makes; any other (reused, found, outside the run) counts as proven. */
  constructor(
    baked: readonly string[],
    private readonly parentOf: (name: string) => string | undefined,
  ) {
    this.proofs = new Map(baked.map((name) => [name, proof()]));
  }

  /** The recipe's own image passed (or needs no test), or not; the first word counts. */
  settle(name: string, passed: boolean): void {
    this.proofs.get(name)?.settle(passed);
  }

  /** True once the recipe's image and every ancestor's made in this run are proven; false as soon as one is not. */
  chain(name: string): Promise<boolean> {
    const links: Promise<boolean>[] = [];
    const seen = new Set<string>();
    for (let at: string | undefined = name; at !== undefined && !seen.has(at); at = this.parentOf(at)) {
      seen.add(at);
      const own = this.proofs.get(at);
      if (own) links.push(own.settled);
    }
    return new Promise((resolve) => {
      let left = links.length;
      if (!left) resolve(true);
      for (const link of links)
        void link.then((passed) => {
          if (!passed) resolve(false);
          else if (--left === 0) resolve(true);
        });
    });
  }

  /** The chain above `name` (its parent's), or true for a recipe with no parent. */
  parentChain(name: string): Promise<boolean> {
    const parent = this.parentOf(name);
    return parent === undefined ? Promise.resolve(true) : this.chain(parent);
  }
}

/** The promise's value, or false once the signal fires (the step waiting for it is being stopped). */
export function untilAborted(promise: Promise<boolean>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}
