import path from 'node:path';
import type { AwsSettings } from '../aws/settings.js';
import { UsageError } from '../errors/index.js';
import { isRunning, pidOf } from '../files/process-identity.js';
import { latencyProfileFromEnv, startLocalCloud, type LocalCloud } from '../local-cloud/index.js';
import type { PackerTarget } from '../packer/target.js';
import { bakeryNameNote } from '../recipes/bakery-name.js';
import type { Bakery } from '../recipes/model.js';
import type { CommandContext } from './context.js';

/** Where a command's EC2 calls (and Packer) go: real AWS, an --endpoint, or the embedded local cloud. */
export interface CloudSession {
  aws: AwsSettings;
  target?: PackerTarget;
  /** Environment for child processes (Packer reads the same SDK chain; --profile must reach it too). */
  packerEnv?: Record<string, string | undefined>;
}

/** Set by `bake local-cloud`: `--local` then attaches to that running cloud instead of starting one. */
export const SHARED_ENDPOINT_ENV = 'BAKE_LOCAL_CLOUD_ENDPOINT';
export const SHARED_SSH_PORT_ENV = 'BAKE_LOCAL_CLOUD_SSH_PORT';
/** The serving process (pid and start time): variables of a cloud that has stopped are refused, not tried. */
export const SHARED_PROCESS_ENV = 'BAKE_LOCAL_CLOUD_PROCESS';

/** What a process needs to use a running local cloud: the SDK's variables and the two above. */
type AttachedCloud = Pick<LocalCloud, 'endpoint' | 'sshPort' | 'env' | 'credentials' | 'latency'>;

export function localCloudEnv(cloud: AttachedCloud): Record<string, string> {
  return { ...cloud.env, [SHARED_ENDPOINT_ENV]: cloud.endpoint, [SHARED_SSH_PORT_ENV]: String(cloud.sshPort) };
}

/** The running local cloud named by the environment, if any. */
function sharedLocalCloud(env: NodeJS.ProcessEnv): AttachedCloud | undefined {
  const endpoint = env[SHARED_ENDPOINT_ENV];
  if (!endpoint) return undefined;
  const server = env[SHARED_PROCESS_ENV];
  if (server && !isRunning(server))
    throw new UsageError(
      `the local cloud at ${endpoint} has stopped (its process ${pidOf(server) ?? server} is gone): start bake local-cloud again and use the variables it prints`,
    );
  const sshPort = Number(env[SHARED_SSH_PORT_ENV]);
  if (!Number.isInteger(sshPort) || sshPort <= 0)
    throw new UsageError(
      `${SHARED_ENDPOINT_ENV} is set but ${SHARED_SSH_PORT_ENV} is not a port: use the variables bake local-cloud prints`,
    );
  const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' };
  if (!credentials.accessKeyId || !credentials.secretAccessKey) {
    throw new UsageError(
      `${SHARED_ENDPOINT_ENV} is set but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not: source the file bake local-cloud --write-env wrote`,
    );
  }
  const region = env.AWS_REGION || 'us-east-1';
  const sdkEnv = {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ENDPOINT_URL_EC2: endpoint,
    AWS_ENDPOINT_URL_SSM: endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  // The variables bake local-cloud printed carry its latency profile: this process waits in the same simulated time.
  return { endpoint, sshPort, env: sdkEnv, credentials, latency: latencyProfileFromEnv(env) };
}

/** Says which bakery the command acts as, when the name was derived rather than configured. */
export function noteBakeryName(ctx: CommandContext, bakery: Bakery): void {
  const note = bakeryNameNote(bakery.config.bakery, bakery.config.bakerySource, bakery.config.bakeryLegacyName);
  if (note) ctx.output.note(note);
}

/** BAKE_DEBUG_LOCAL_CLOUD=1: the embedded local cloud's debug lines, on stderr through the output host. */
export function localCloudLog(
  ctx: CommandContext,
  env: NodeJS.ProcessEnv = process.env,
): ((message: string) => void) | undefined {
  return env.BAKE_DEBUG_LOCAL_CLOUD === '1' ? (message) => ctx.output.progress(`local-cloud: ${message}`) : undefined;
}

export async function withCloud<T>(ctx: CommandContext, action: (session: CloudSession) => Promise<T>): Promise<T> {
  const profileEnv = ctx.aws.profile ? { AWS_PROFILE: ctx.aws.profile } : undefined;
  if (!ctx.local) {
    const target = ctx.aws.endpoint ? { ec2Endpoint: ctx.aws.endpoint } : undefined;
    return action({ aws: ctx.aws, target, packerEnv: profileEnv });
  }
  const shared = sharedLocalCloud(process.env);
  if (shared) return action(localSession(ctx, shared, profileEnv));
  const cloud = await startLocalCloud({
    stateDir: path.join(ctx.dir, '.bake', 'local'),
    log: localCloudLog(ctx),
    // The first local build debootstraps for minutes: always said, not only in debug output.
    notice: (message) => ctx.output.progress(`local cloud: ${message}`),
  });
  try {
    return await action(localSession(ctx, cloud, profileEnv));
  } finally {
    await cloud.close();
  }
}

function localSession(
  ctx: CommandContext,
  cloud: AttachedCloud,
  profileEnv: Record<string, string> | undefined,
): CloudSession {
  return {
    // The local cloud checks every signature against its own key, whatever the agent's AWS chain holds.
    aws: {
      ...ctx.aws,
      endpoint: cloud.endpoint,
      credentials: cloud.credentials,
      ...(cloud.latency && { timeScale: cloud.latency.timeScale }),
    },
    target: { ec2Endpoint: cloud.endpoint, local: { sshPort: cloud.sshPort } },
    packerEnv: { ...profileEnv, ...cloud.env },
  };
}
