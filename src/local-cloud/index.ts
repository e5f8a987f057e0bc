import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createBootHost, INSTANCE_SSH_PORT } from './boot-host.js';
import { loadOrCreateCredentials, type LocalCredentials } from './credentials.js';
import { denyListFromEnv } from './ec2-api/authorization.js';
import { startEc2Api, type FaultRule } from './ec2-api/server.js';
import { settleHostWork } from './ec2-api/host-queue.js';
import { SimulatedTime } from './ec2-api/simulated-time.js';
import { latencyProfileEnv, latencyProfileFromEnv, type LatencyProfile } from './latency-profile.js';
import { StateFile } from './ec2-api/state-file.js';
import type { CloudState } from './ec2-api/state.js';
import type { InstanceHost } from './instance-host.js';

export { BASE_IMAGE, type InstanceHost } from './instance-host.js';
export {
  BASE_IMAGE_NAME,
  BASE_IMAGE_NAMES,
  DEBIAN_ACCOUNT,
  DEBIAN_SSM_PARAMETER,
  DEBIAN_SSM_PARAMETERS,
  baseImageId,
} from './ec2-api/seed.js';
export { SELF_ACCOUNT } from './ec2-api/state.js';
export type { FaultRule } from './ec2-api/server.js';
export { DENY_ENV } from './ec2-api/authorization.js';
export { AWS_LATENCY, latencyProfileFromEnv, type LatencyProfile } from './latency-profile.js';
export { credentialsFileOf, type LocalCredentials } from './credentials.js';

/** The embedded EC2-compatible cloud `--local` runs against. */
export interface LocalCloud {
  /** http://127.0.0.1:PORT, serving EC2 (Query) and SSM (JSON) for every region. */
  endpoint: string;
  /** The port every instance's sshd listens on (22), each at its own address. */
  sshPort: number;
  /** The key every request must be signed with (made per state dir; never log it). */
  credentials: LocalCredentials;
  /** What a child process such as packer needs to reach this cloud, credentials included. */
  env: Record<string, string>;
  /** How often each action was called since start. */
  calls: Map<string, number>;
  /** Calls answered RequestLimitExceeded (the latency profile's throttling), per action. */
  throttled: Map<string, number>;
  /** The latency profile at work, if any. */
  latency?: LatencyProfile;
  /** Failures to answer with (tests); the same array as options.faults, changeable while running. */
  faults: FaultRule[];
  /** IAM actions answered as denied (BAKE_LOCAL_DENY); the same array as options.deny, changeable while running. */
  deny: string[];
  /** Waits for instance work in flight, stops the endpoint and every sshd; state stays on disk. */
  close(): Promise<void>;
}

export interface LocalCloudOptions {
  /** Where state.json and the host's filesystems live: <bakery>/.bake/local. */
  stateDir: string;
  host?: InstanceHost;
  /** The port the given host's instances listen on for SSH (default 22, as booted instances do). */
  sshPort?: number;
  /** Region for env.AWS_REGION (default us-east-1). */
  region?: string;
  /** How long to wait for another bake holding the same state dir (default 60 s). */
  lockWaitMs?: number;
  /** Requests to fail on purpose, e.g. `{action: 'CopyImage', region: 'eu-west-1'}` (tests). */
  faults?: FaultRule[];
  /** IAM actions to answer as denied, e.g. `ec2:RunInstances` (docs/local-cloud.md); default from BAKE_LOCAL_DENY. */
  deny?: string[];
  /** How long things take (docs/local-cloud.md#latency); default from BAKE_LOCAL_LATENCY and BAKE_LOCAL_TIME_SCALE; null: none. */
  latency?: LatencyProfile | null;
  /** Debug lines (every call: region, action, parameter names; never key material); none by default. */
  log?: (message: string) => void;
  /** What a user waits for and should hear about (the once-per-machine debootstrap); default: log. */
  notice?: (message: string) => void;
}

/**
 * The boot host, made on first use: `bake plan --local` launches nothing and should not pay
 * for (or need the privileges of) a host it never uses.
 */
function defaultHost(
  stateDir: string,
  log: (message: string) => void,
  notice: (message: string) => void,
): InstanceHost {
  let made: Promise<InstanceHost> | undefined;
  const listeners: Array<(instanceId: string, reason: string) => void> = [];
  const host = () => {
    made ??= Promise.resolve().then(() => {
      const booting = createBootHost({ stateDir, log, notice });
      for (const listener of listeners) booting.onStoppedByGuest?.(listener);
      return booting;
    });
    return made;
  };
  return {
    launch: async (request) => (await host()).launch(request),
    stop: async (instanceId) => (await host()).stop(instanceId),
    start: async (instanceId, authorizedKey, instanceType) =>
      (await host()).start(instanceId, authorizedKey, instanceType),
    capture: async (instanceId, imageId) => (await host()).capture(instanceId, imageId),
    alias: async (imageId, newImageId) => (await host()).alias(imageId, newImageId),
    terminate: async (instanceId) => (await host()).terminate(instanceId),
    deleteImage: async (imageId) => (await host()).deleteImage(imageId),
    consoleOutput: async (instanceId) => (await (await host()).consoleOutput?.(instanceId)) ?? '',
    holdSsh: async (instanceId, until) => (await host()).holdSsh?.(instanceId, until),
    // Before the host exists: it has no instance to stop until something launched one.
    onStoppedByGuest: (listener) => {
      if (made) void made.then((booting) => booting.onStoppedByGuest?.(listener));
      else listeners.push(listener);
    },
    close: async () => {
      if (made) await (await made).close();
    },
  };
}

/** Boots instances that were running when the last bake exited (they were powered off with it). */
async function resume(state: CloudState, host: InstanceHost, log: (message: string) => void): Promise<void> {
  // EC2 forgets terminated instances after a while; the local cloud does so at start.
  state.instances = state.instances.filter((i) => i.state !== 'terminated');
  for (const instance of state.instances) {
    if (instance.state === 'stopping') instance.state = 'stopped';
    if (instance.state === 'shutting-down') {
      await host
        .terminate(instance.instanceId)
        .catch((error: Error) => log(`terminate ${instance.instanceId}: ${error.message}`));
      instance.state = 'terminated';
    }
    if (instance.state === 'running' || instance.state === 'pending') {
      try {
        instance.ip = (await host.start(instance.instanceId, instance.authorizedKey, instance.instanceType)).ip;
        instance.state = 'running';
      } catch (error) {
        log(`resume ${instance.instanceId}: ${(error as Error).message}`);
        instance.state = 'stopped';
      }
    }
  }
  for (const image of state.images) {
    if (image.state === 'pending') {
      image.state = 'failed';
      image.stateReason = 'bake exited while the image was being created';
    }
  }
}

/** The state directory's own key for SecureString parameters (0600), made on first use. */
async function parameterSealingKey(stateDir: string): Promise<Buffer> {
  const file = path.join(stateDir, 'ssm-parameters.key');
  try {
    return await readFile(file);
  } catch {
    const key = randomBytes(32);
    await writeFile(file, key, { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
    return readFile(file);
  }
}

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const log = options.log ?? (() => {});
  // Read before the lock: a wrong value is the user's mistake, told before anything starts.
  const latency = options.latency === undefined ? latencyProfileFromEnv(process.env) : (options.latency ?? undefined);
  const deny = options.deny ?? denyListFromEnv(process.env);
  const stateFile = new StateFile(options.stateDir);
  await stateFile.lock(options.lockWaitMs ?? 60_000);
  let host: InstanceHost | undefined;
  try {
    const state = stateFile.load();
    const credentials = await loadOrCreateCredentials(options.stateDir);
    const sshPort = options.sshPort ?? INSTANCE_SSH_PORT;
    // A local VM that powered itself off (or rebooted past its budget) is stopped, as EC2 records it.
    const stoppedByGuest = (instanceId: string, reason: string) => {
      const instance = state.instances.find((i) => i.instanceId === instanceId);
      if (instance?.state !== 'running') return;
      instance.state = 'stopped';
      instance.stateReason = reason;
      stateFile.save(state);
    };
    host = options.host ?? defaultHost(options.stateDir, log, options.notice ?? log);
    host.onStoppedByGuest?.(stoppedByGuest);
    await resume(state, host, log);
    stateFile.save(state);
    const faults = options.faults ?? [];
    const parameterKey = await parameterSealingKey(options.stateDir);
    const time = new SimulatedTime(latency);
    const api = await startEc2Api({
      state,
      credentials,
      host,
      time,
      faults,
      deny,
      persist: () => stateFile.save(state),
      log,
      parameterKey,
    });
    const region = options.region ?? 'us-east-1';
    const openHost = host;
    let closed = false;
    return {
      endpoint: api.endpoint,
      sshPort,
      calls: api.calls,
      throttled: time.throttled,
      latency,
      faults,
      deny,
      credentials,
      env: {
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        AWS_ENDPOINT_URL_EC2: api.endpoint,
        AWS_ENDPOINT_URL_SSM: api.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        ...latencyProfileEnv(latency),
      },
      async close() {
        if (closed) return;
        closed = true;
        try {
          // Simulated waits end now: instance work finishes, images still pending stay so.
          time.close();
          await settleHostWork();
          await api.close();
          await openHost.close();
          stateFile.save(state);
        } finally {
          stateFile.unlock();
        }
      },
    };
  } catch (error) {
    await host?.close().catch(() => undefined);
    stateFile.unlock();
    throw error;
  }
}
