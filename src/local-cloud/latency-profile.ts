/**
 * How long the local cloud makes things take: by default, as long as the work takes on this
 * machine. With a latency profile (BAKE_LOCAL_LATENCY=aws), as long as they take on AWS, scaled
 * down (BAKE_LOCAL_TIME_SCALE): instances stay pending, stopping and shutting-down, images stay
 * pending, every call answers late, and bursts get RequestLimitExceeded. So bake's waiters really
 * wait, and a bakery's build can be timed as it would run on AWS without an account.
 */
import { UsageError } from '../errors/index.js';

/** EC2 throttles each account per region and per class of action, each with its own token bucket. */
export type ActionClass = 'non-mutating' | 'mutating' | 'resource-intensive';

/**
 * SSM Parameter Store throttles each account per region on its own, apart from EC2: the reads
 * (GetParameter, GetParameters, GetParametersByPath) share one quota, writes and listings have theirs.
 */
export type SsmActionClass = 'parameter-reads' | 'parameter-writes' | 'parameter-listings';

export interface TokenBucket {
  /** Requests that may come at once (the bucket's size). */
  burst: number;
  /** Tokens added per (simulated) second. */
  refillPerSecond: number;
}

/** Simulated seconds for each thing that takes time on EC2. */
export interface LatencyFigures {
  /** Every API call, before the answer. */
  apiCallS: number;
  /** RunInstances / StartInstances: pending → running. */
  pendingS: number;
  /** After running, until the instance's status checks pass (its sshd answers: what Packer waits for next). */
  sshReadyS: number;
  /** StopInstances: stopping → stopped. */
  stoppingS: number;
  /** TerminateInstances: shutting-down → terminated. */
  shuttingDownS: number;
  /** CreateImage of an 8 GiB volume: pending → available (larger volumes take proportionally longer). */
  createImageS: number;
  /** CopyImage across regions of an 8 GiB image: pending → available. */
  copyImageS: number;
  throttle: Record<ActionClass, TokenBucket>;
  /** Parameter Store's standard throughput (answered ThrottlingException, not RequestLimitExceeded). */
  ssmThrottle: Record<SsmActionClass, TokenBucket>;
}

export interface LatencyProfile extends LatencyFigures {
  name: string;
  /** Real seconds per simulated second: 0.01 runs a 3-minute CreateImage in 1.8 s. */
  timeScale: number;
}

/**
 * Public figures for EC2: an instance is running in ~30 s and answers SSH ~20 s later, stops in
 * ~40 s; CreateImage of an 8 GiB gp3 root takes ~3 min, a cross-region CopyImage ~8 min; a call
 * answers in ~50 ms. Termination of a stopped instance is our estimate (nothing to shut down).
 * Buckets: EC2's documented request throttling (non-mutating 100 / 20 per s, mutating and
 * resource-intensive 50 / 5 per s). SSM: Parameter Store's standard (default) throughput, 40
 * transactions per second shared by GetParameter, GetParameters and GetParametersByPath (AWS
 * Systems Manager endpoints and quotas); PutParameter 3 per second and DescribeParameters 10 per
 * second are our estimates (AWS documents that PutParameter is throttled under the same setting,
 * not a figure we could confirm). AWS states rates, not bursts: a bucket holds one second's worth.
 */
export const AWS_LATENCY: LatencyFigures = {
  apiCallS: 0.05,
  pendingS: 30,
  sshReadyS: 20,
  stoppingS: 40,
  shuttingDownS: 10,
  createImageS: 180,
  copyImageS: 480,
  throttle: {
    'non-mutating': { burst: 100, refillPerSecond: 20 },
    mutating: { burst: 50, refillPerSecond: 5 },
    'resource-intensive': { burst: 50, refillPerSecond: 5 },
  },
  ssmThrottle: {
    'parameter-reads': { burst: 40, refillPerSecond: 40 },
    'parameter-writes': { burst: 3, refillPerSecond: 3 },
    'parameter-listings': { burst: 10, refillPerSecond: 10 },
  },
};

const PROFILES: Record<string, LatencyFigures> = { aws: AWS_LATENCY };

export const LATENCY_ENV = 'BAKE_LOCAL_LATENCY';
export const TIME_SCALE_ENV = 'BAKE_LOCAL_TIME_SCALE';

/** BAKE_LOCAL_LATENCY=aws and BAKE_LOCAL_TIME_SCALE (default 1, real time); unset or `none`: no profile. */
export function latencyProfileFromEnv(env: NodeJS.ProcessEnv): LatencyProfile | undefined {
  const name = env[LATENCY_ENV]?.trim() ?? '';
  const scaleText = env[TIME_SCALE_ENV]?.trim() ?? '';
  if (name === '' || name === 'none') {
    if (scaleText !== '')
      throw new UsageError(`${TIME_SCALE_ENV} is set but ${LATENCY_ENV} is not: set ${LATENCY_ENV}=aws too`);
    return undefined;
  }
  const figures = Object.hasOwn(PROFILES, name) ? PROFILES[name] : undefined;
  if (!figures)
    throw new UsageError(
      `${LATENCY_ENV}=${JSON.stringify(name)} is not a latency profile: use ${Object.keys(PROFILES).join(', ')} or none`,
    );
  const timeScale = scaleText === '' ? 1 : Number(scaleText);
  if (!Number.isFinite(timeScale) || timeScale <= 0 || timeScale > 1000) {
    throw new UsageError(
      `${TIME_SCALE_ENV}=${JSON.stringify(scaleText)} is not a time scale: a positive number, e.g. 0.01 (1 simulated second = 10 ms)`,
    );
  }
  return { name, timeScale, ...figures };
}

/** The variables that select this profile, for processes that attach to the same cloud. */
export function latencyProfileEnv(profile: LatencyProfile | undefined): Record<string, string> {
  return profile ? { [LATENCY_ENV]: profile.name, [TIME_SCALE_ENV]: String(profile.timeScale) } : {};
}

// EC2's "resource-intensive" list, as far as the local cloud serves those actions.
const RESOURCE_INTENSIVE = new Set([
  'RunInstances',
  'StartInstances',
  'StopInstances',
  'TerminateInstances',
  'CreateImage',
  'CopyImage',
  'RegisterImage',
]);

export function actionClassOf(action: string): ActionClass {
  if (RESOURCE_INTENSIVE.has(action)) return 'resource-intensive';
  return /^(Describe|Get|List|Search)/.test(action) ? 'non-mutating' : 'mutating';
}

/** SSM's JSON protocol names the action in X-Amz-Target: `AmazonSSM.GetParameter`. */
export const SSM_TARGET_PREFIX = 'AmazonSSM.';

export function ssmActionClassOf(target: string): SsmActionClass {
  const action = target.slice(SSM_TARGET_PREFIX.length);
  if (/^GetParameter/.test(action)) return 'parameter-reads';
  return /^(Describe|Get|List)/.test(action) ? 'parameter-listings' : 'parameter-writes';
}

/** The token bucket a call draws from: SSM targets (`AmazonSSM.…`) by Parameter Store's quotas, the rest by EC2's. */
export function throttleBucketOf(figures: LatencyFigures, action: string): { name: string; bucket: TokenBucket } {
  if (action.startsWith(SSM_TARGET_PREFIX)) {
    const ssmClass = ssmActionClassOf(action);
    return { name: `ssm ${ssmClass}`, bucket: figures.ssmThrottle[ssmClass] };
  }
  const ec2Class = actionClassOf(action);
  return { name: `ec2 ${ec2Class}`, bucket: figures.throttle[ec2Class] };
}
