/** How bake reaches EC2: the SDK's standard chain plus the CLI's --profile/--region/--endpoint. */
export interface AwsSettings {
  profile?: string;
  /** Fallback region for calls that are not about a recipe's own regions. */
  region?: string;
  /** EC2-compatible endpoint URL (also read from AWS_ENDPOINT_URL_EC2 by the SDK itself). */
  endpoint?: string;
  /** Explicit keys instead of the SDK's chain: the local cloud's own, which it checks every request against. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * The local cloud's simulated time (its latency profile's BAKE_LOCAL_TIME_SCALE): bake's waiters
   * and retry backoffs shrink by it, so a simulated wait is polled as often as the real one would be.
   */
  timeScale?: number;
}
