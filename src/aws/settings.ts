/** How bake reaches EC2: the SDK's standard chain plus the CLI's --profile/--region/--endpoint. */
export interface AwsSettings {
  profile?: string;
  /** Fallback region for calls that are not about a recipe's own regions. */
  region?: string;
  /** EC2-compatible endpoint URL (also read from AWS_ENDPOINT_URL_EC2 by the SDK itself). */
  endpoint?: string;
  /** Explicit keys instead of the SDK's chain: the local cloud's own, which it checks every request against. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}
