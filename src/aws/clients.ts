import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import type { AwsSettings } from './settings.js';

// EC2's API throttles bursts (DescribeImages across many regions in a CI fan-out);
// adaptive mode backs off client-side instead of failing the build on RequestLimitExceeded.
const RETRIES = { retryMode: 'adaptive', maxAttempts: 8 } as const;

/**
 * Against a local cloud in simulated time: the SDK's standard retry (full jitter, 100 ms doubling
 * up to 20 s) in simulated seconds, so a throttled call costs what it would on AWS.
 */
function scaledRetries(timeScale: number) {
  return {
    retryStrategy: new ConfiguredRetryStrategy(
      RETRIES.maxAttempts,
      (attempt) => Math.random() * Math.min(20_000, 100 * 2 ** attempt) * timeScale,
    ),
  };
}

// The time scale each client was made for, so code handed only a client waits in the same time.
const clientTimeScales = new WeakMap<EC2Client | SSMClient, number>();

/** The simulated time scale of the settings the client was made from (1: real time, as on AWS). */
export function timeScaleOf(client: EC2Client | SSMClient): number {
  return clientTimeScales.get(client) ?? 1;
}

function remember<C extends EC2Client | SSMClient>(client: C, settings: AwsSettings): C {
  if (settings.timeScale) clientTimeScales.set(client, settings.timeScale);
  return client;
}

function common(settings: AwsSettings, region: string) {
  return {
    region,
    ...(settings.timeScale ? scaledRetries(settings.timeScale) : RETRIES),
    ...(settings.profile ? { profile: settings.profile } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  };
}

/** An EC2 client for one region: the SDK's standard credential chain, or the --profile, and --endpoint when given. */
export function createEc2Client(settings: AwsSettings, region: string): EC2Client {
  return remember(new EC2Client(common(settings, region)), settings);
}

/** SSM for `ssm:` bases; --endpoint (and the local cloud) serves SSM on the same URL. */
export function createSsmClient(settings: AwsSettings, region: string): SSMClient {
  return remember(new SSMClient(common(settings, region)), settings);
}

/** STS, KMS and IAM for `bake doctor`; --endpoint (and the local cloud) serves them on the same URL. */
export function createStsClient(settings: AwsSettings, region: string): STSClient {
  return new STSClient(common(settings, region));
}

export function createKmsClient(settings: AwsSettings, region: string): KMSClient {
  return new KMSClient(common(settings, region));
}

/** IAM is global: its calls are signed for us-east-1 in the aws partition. */
export function createIamClient(settings: AwsSettings): IAMClient {
  return new IAMClient(common(settings, 'us-east-1'));
}

export interface CallCounter {
  /** EC2 API calls sent by this client so far (retries included). */
  readonly count: number;
  /** Calls per operation name, e.g. DescribeImages. */
  readonly byOperation: Map<string, number>;
}

/** Counts every request the client sends, so the bench can report EC2 calls per plan. */
export function countEc2Calls(client: EC2Client | SSMClient): CallCounter {
  const counter = { count: 0, byOperation: new Map<string, number>() };
  // Both clients share the smithy middleware stack; the union's add() signatures do not unify.
  const stack = client.middlewareStack as EC2Client['middlewareStack'];
  stack.add(
    (next, context) => async (args) => {
      counter.count += 1;
      const operation = context.commandName?.replace(/Command$/, '') ?? 'unknown';
      counter.byOperation.set(operation, (counter.byOperation.get(operation) ?? 0) + 1);
      return next(args);
    },
    // finalizeRequest runs once per attempt, so throttled retries are counted too.
    { step: 'finalizeRequest', name: 'bakeCallCounter', override: true },
  );
  return counter;
}
