/**
 * One bake of a recipe at a time across every agent and job: take the recipe's lock before
 * baking, wait for it (or fail at once) when another bake holds it, and take over a lock left by
 * an agent that died. The store (src/aws/recipe-lock.ts) is EC2 itself; the clock and sleeping
 * come in from outside so the policy is tested without waiting.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { BuildFailure } from '../errors/index.js';
import { lockName, type RecipeLockStore } from '../aws/recipe-lock.js';
import { hostProcessIdentity, isGoneFromThisHost } from '../files/process-identity.js';

export interface LockPolicy {
  /** Who we are, written on the lock: BUILD_URL, or user@host and pid. */
  holder: string;
  /** How long to wait for another bake's lock; 0 = fail at once. */
  waitMs: number;
  /**
   * A lock whose holder has not shown a sign of life for this long was left by an agent that
   * died: it is taken over (with a warning). The holder refreshes its lock well within it.
   */
  staleAfterMs: number;
  /** How often the holder refreshes its lock. Default: a quarter of staleAfterMs, between 1 s and 1 min. */
  heartbeatMs?: number;
}

export function heartbeatInterval(policy: LockPolicy): number {
  return policy.heartbeatMs ?? Math.min(60_000, Math.max(1_000, Math.floor(policy.staleAfterMs / 4)));
}

export interface LockClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: LockClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleepFor(ms, undefined, { signal }),
};

export interface LockRequest {
  recipe: string;
  region: string;
  fingerprint: string;
  /** The bakery whose lock it is (part of the lock's name). */
  bakery?: string;
}

/** Another bake holds the lock and we may not (or no longer) wait. */
export class RecipeLockedError extends BuildFailure {}

/** Polls start at 1 s and double up to 15 s: quick for short waits, few calls for long ones. */
const FIRST_POLL_MS = 1_000;
const MAX_POLL_MS = 15_000;
/**
 * A holder that vanished between CreateKeyPair and DescribeKeyPairs, or a stale lock whose
 * deletion has not taken effect yet (EC2 is eventually consistent): try again after a pause
 * that grows, but not forever, so a lock that will not go away never spins through EC2 calls.
 */
const MAX_CONTENDED_ATTEMPTS = 8;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 8_000;

/** Returns the function that releases the lock. */
export async function acquireRecipeLock(
  store: RecipeLockStore,
  request: LockRequest,
  policy: LockPolicy,
  options: {
    clock?: LockClock;
    signal?: AbortSignal;
    note?: (message: string) => void;
    /** Recorded on the lock (default: this process, src/files/process-identity.ts). */
    process?: string;
  } = {},
): Promise<() => Promise<void>> {
  const clock = options.clock ?? realClock;
  const ownProcess = options.process ?? hostProcessIdentity();
  const note = options.note ?? (() => {});
  const started = clock.now();
  const name = `${lockName(request.recipe, request.bakery)} in ${request.region}`;
  let poll = FIRST_POLL_MS;
  let saidWaiting = false;
  let contended = 0;
  const takenOver = new Set<string>();
  const retryAfterContention = async (what: string) => {
    if (++contended > MAX_CONTENDED_ATTEMPTS)
      throw new BuildFailure(`the build lock ${name} ${what} after ${MAX_CONTENDED_ATTEMPTS} attempts; giving up`);
    try {
      await clock.sleep(Math.min(FIRST_RETRY_MS * 2 ** (contended - 1), MAX_RETRY_MS), options.signal);
    } catch {
      throw new BuildFailure(`interrupted while waiting for the build lock ${name}`);
    }
  };
  for (;;) {
    if (options.signal?.aborted) throw new BuildFailure(`interrupted while waiting for the build lock ${name}`);
    const result = await store.tryAcquire(
      request.recipe,
      request.region,
      policy.holder,
      request.fingerprint,
      ownProcess,
    );
    if (result.acquired) {
      return keepAlive(store, request.region, result.keyPairId, policy, clock, (error) =>
        note(
          /InvalidKeyPair\.NotFound/.test(error)
            ? `${request.recipe}: the build lock ${name} is gone (taken over by another job after refreshes failed, or deleted): another bake of ${request.recipe} may run at the same time`
            : `${request.recipe}: could not refresh the build lock ${name}: ${error}`,
        ),
      );
    }
    const held = result.held;
    if (!held) {
      await retryAfterContention('keeps changing hands');
      continue;
    }
    const silence = clock.now() - held.aliveAt.getTime();
    // A holder on this very host whose process is gone (kill -9) will never refresh: no need to wait for staleness.
    const holderDied = held.process !== undefined && isGoneFromThisHost(held.process);
    if (holderDied || silence > policy.staleAfterMs) {
      note(
        `${request.recipe}: taking over the build lock ${name}: held by ${held.holder} since ${held.since.toISOString()}, ` +
          (holderDied
            ? `whose process (pid ${held.process!.split('/').pop()!.split(':')[0]}) on this host is gone`
            : `no sign of life since ${held.aliveAt.toISOString()} (over ${formatMs(policy.staleAfterMs)})`),
      );
      await store.release(request.region, held.keyPairId);
      // The first retry is at once: a deletion normally takes effect before the next CreateKeyPair.
      if (takenOver.has(held.keyPairId))
        await retryAfterContention(`left by ${held.holder} cannot be taken over (deleting it did not take effect)`);
      takenOver.add(held.keyPairId);
      continue;
    }
    const waited = clock.now() - started;
    const who = `${request.recipe} is already being built by ${held.holder} (since ${held.since.toISOString()}; lock ${name})`;
    if (waited >= policy.waitMs) {
      throw new RecipeLockedError(
        policy.waitMs > 0
          ? `${who}; gave up after waiting ${formatMs(waited)}`
          : `${who}; pass --lock-wait DURATION to wait for it`,
      );
    }
    if (!saidWaiting) {
      note(`${who}: waiting up to ${formatMs(policy.waitMs)}`);
      saidWaiting = true;
    }
    try {
      await clock.sleep(Math.min(poll, policy.waitMs - waited), options.signal);
    } catch {
      throw new BuildFailure(`interrupted while waiting for the build lock ${name}`);
    }
    poll = Math.min(poll * 2, MAX_POLL_MS);
  }
}

/**
 * Refreshes the lock until it is released, so that only a holder that stopped refreshing (its
 * agent died) is ever taken over, however long its bake takes. A failed refresh is reported, not
 * fatal: the next one may work, and the stale limit is several refreshes long.
 */
function keepAlive(
  store: RecipeLockStore,
  region: string,
  keyPairId: string,
  policy: LockPolicy,
  clock: LockClock,
  warn: (error: string) => void,
): () => Promise<void> {
  let beating: Promise<void> = Promise.resolve();
  let lastWarning: string | undefined;
  const timer = setInterval(() => {
    beating = store
      .heartbeat(region, keyPairId, new Date(clock.now()))
      .then(() => void (lastWarning = undefined))
      .catch((error: unknown) => {
        const text = error instanceof Error ? error.message : String(error);
        // Once per kind of failure, not every refresh.
        if (text !== lastWarning) warn(text);
        lastWarning = text;
      });
  }, heartbeatInterval(policy));
  // The timer alone never keeps the process alive: release() stops it, and an exit needs no release (the lock goes stale).
  timer.unref();
  return async () => {
    clearInterval(timer);
    await beating;
    await store.release(region, keyPairId);
  };
}

function formatMs(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
