import { throttleBucketOf, type LatencyProfile } from '../latency-profile.js';

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
