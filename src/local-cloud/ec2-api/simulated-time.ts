import { throttleBucketOf, type LatencyProfile } from '../latency-profile.js';

/** How long at most an answer waits for the host work its call started (answerAfter). */
export const HOST_WORK_ANSWER_MS = 10_000;

/**
 * The latency profile at work (src/local-cloud/latency-profile.ts): waits of simulated seconds
 * and the token buckets of EC2 and of SSM's Parameter Store. Without a profile nothing waits and
 * nothing is throttled.
 */
export class SimulatedTime {
  /** Requests refused for a full bucket (RequestLimitExceeded, ThrottlingException), per action or SSM target. */
  readonly throttled = new Map<string, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly waiting = new Set<() => void>();
  private closed = false;
  /** Instance id → when its status checks pass (real epoch ms), set as it becomes running. */
  readonly reachableAt = new Map<string, number>();

  constructor(readonly profile: LatencyProfile | undefined) {}

  /**
   * Resolves after `seconds` simulated seconds: true, or false when the cloud closed first (then
   * at once, so that close() is not held up; what was still pending stays pending).
   */
  wait(seconds: number): Promise<boolean> {
    const ms = this.profile ? seconds * this.profile.timeScale * 1000 : 0;
    if (ms <= 0 || this.closed) return Promise.resolve(!this.closed);
    return new Promise((resolve) => {
      const done = (elapsed: boolean) => {
        clearTimeout(timer);
        this.waiting.delete(cut);
        resolve(elapsed);
      };
      const cut = () => done(false);
      const timer = setTimeout(() => done(true), ms);
      this.waiting.add(cut);
    });
  }

  /** Real epoch milliseconds `seconds` simulated seconds from now. */
  after(seconds: number): number {
    return Date.now() + (this.profile ? seconds * this.profile.timeScale * 1000 : 0);
  }

  /**
   * Without a latency profile, the answer to a call that starts host work (RunInstances,
   * StopInstances, CreateImage…) waits for that work, up to `HOST_WORK_ANSWER_MS`: the caller's
   * waiter then finds the new state at its first poll instead of a poll later (Packer polls every
   * second at best, and a local stop or capture takes a fraction of that). The answer itself is
   * what EC2 answers (`pending`, `stopping`…); only when it comes changes. With a profile, the
   * answer comes at once and the work takes the profile's time, as on EC2.
   */
  async answerAfter(work: Promise<unknown>, limitMs = HOST_WORK_ANSWER_MS): Promise<void> {
    if (this.profile || this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs)));
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    await Promise.race([settled, limit]);
    clearTimeout(timer);
  }

  /** One call's latency. */
  answer(): Promise<boolean> {
    return this.wait(this.profile?.apiCallS ?? 0);
  }

  /**
   * Takes a token from the region's bucket for the action's class (an EC2 action, or an SSM
   * target such as `AmazonSSM.PutParameter`); false when it is empty (the call is to be refused
   * with the service's throttling error). Buckets refill in simulated time.
   */
  admit(region: string, action: string): boolean {
    if (!this.profile) return true;
    const { name, bucket: figures } = throttleBucketOf(this.profile, action);
    const { burst, refillPerSecond } = figures;
    const key = `${region} ${name}`;
    const now = Date.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(
      burst,
      bucket.tokens + ((now - bucket.at) / 1000 / this.profile.timeScale) * refillPerSecond,
    );
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    this.throttled.set(action, (this.throttled.get(action) ?? 0) + 1);
    return false;
  }

  /** Ends every wait at once (the cloud is closing). */
  close(): void {
    this.closed = true;
    for (const cut of [...this.waiting]) cut();
  }
}
