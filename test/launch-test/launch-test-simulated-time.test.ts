/**
 * Launch tests in the local cloud's simulated time (BAKE_LOCAL_LATENCY=aws with a time scale),
 * with the real instance host: bake's waiters and retry pauses shrink by the scale, so a launch
 * test polls as often per simulated second as it would on AWS; and a new instance refuses SSH
 * until its simulated "SSH ready" time, as an EC2 instance does while its status is initializing.
 * No assertion on durations: polls are counted and their spacing compared with the unscaled
 * waiter's minimum (1 s), which load can only lengthen.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteKeyPairCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  EC2Client,
  ImportKeyPairCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEc2Client } from '../../src/aws/clients.js';
import { ec2TestInstanceSession } from '../../src/aws/test-instance.js';
import { runLaunchTest } from '../../src/launch-test/launch-test.js';
import { sshRemoteMachine, type RemoteMachine, type SshWaitOptions } from '../../src/launch-test/remote.js';
import { AWS_LATENCY, baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { DEFAULT_LAUNCH_TEST_TIMEOUT_MS, type VerifyCheck } from '../../src/recipes/model.js';
import { bakeryOf, recipeOf } from '../pipeline/bakery.js';
import { makeKeyPair, ssh, testBaseRootfs, testRootfsCache } from '../local-cloud/instances.js';

const region = 'us-east-1';
const root = mkdtempSync(path.join(tmpdir(), 'bake-simulated-launch-'));
const dirs: string[] = [root];
const clients: EC2Client[] = [];
let cloud: LocalCloud | undefined;
const previousCache = process.env.BAKE_ROOTFS_CACHE;

beforeAll(async () => {
  process.env.BAKE_ROOTFS_CACHE = testRootfsCache();
  await testBaseRootfs();
  mkdirSync(path.join(root, 'cloud-init'));
}, 900_000);

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await cloud?.close();
  cloud = undefined;
});

afterAll(() => {
  if (previousCache === undefined) delete process.env.BAKE_ROOTFS_CACHE;
  else process.env.BAKE_ROOTFS_CACHE = previousCache;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startCloud(latency: Parameters<typeof startLocalCloud>[0]['latency']): Promise<LocalCloud> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'bake-simulated-launch-state-'));
  dirs.push(stateDir);
  cloud = await startLocalCloud({ stateDir, latency });
  return cloud;
}

/** When each request of `operation` left the client (retries included). */
function sendTimes(client: EC2Client, operation: string): number[] {
  const times: number[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === `${operation}Command`) times.push(Date.now());
      return next(args);
    },
    { step: 'finalizeRequest', name: `record${operation}`, override: true },
  );
  return times;
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]);

const at = { file: 'recipes/web.yaml', line: 20, col: 5 };

describe('launch tests in simulated time (aws latency profile)', () => {
  it('polls at simulated intervals, lets SSH in once the instance is SSH-ready, passes and removes everything', async () => {
    const timeScale = 0.03;
    const c = await startCloud({ ...AWS_LATENCY, name: 'aws', timeScale });
    // bake's own client for the local cloud (as `bake build --local` makes it): it carries the scale.
    const ec2 = createEc2Client({ endpoint: c.endpoint, credentials: c.credentials, timeScale }, region);
    clients.push(ec2);
    const polls = sendTimes(ec2, 'DescribeInstances');
    const sshWaits: (SshWaitOptions | undefined)[] = [];
    const remote: RemoteMachine = {
      ...sshRemoteMachine,
      waitForSsh: (target, signal, options) => {
        sshWaits.push(options);
        return sshRemoteMachine.waitForSsh(target, signal, options);
      },
    };
    const check = { kind: 'file', path: '/etc/debian_version', location: at } as VerifyCheck;
    const recipe = recipeOf(
      root,
      'web',
      { kind: 'ami', ami: baseImageId(region) },
      {
        verify: [check],
        launchTest: {
          enabled: true,
          userData: [],
          checks: [],
          timeoutMs: DEFAULT_LAUNCH_TEST_TIMEOUT_MS,
          location: at,
        },
      },
    );
    const lines: string[] = [];
    const result = await runLaunchTest(
      {
        bakery: bakeryOf(root, [recipe]),
        recipe,
        region,
        imageId: baseImageId(region),
        target: { sshPort: c.sshPort },
        log: (line) => void lines.push(line),
      },
      { session: (r) => ec2TestInstanceSession(ec2, r), remote, now: () => Date.now() },
    );

    expect(result, lines.join('\n')).toMatchObject({ status: 'passed', cleanup_problems: [] });
    expect(sshWaits).toEqual([{ timeScale }]);
    // Pending lasts 30 simulated s: the running waiter polled it several times, some of them
    // closer together than the unscaled waiter's 1 s minimum could ever be.
    expect(polls.length).toBeGreaterThanOrEqual(3);
    expect(Math.min(...gaps(polls))).toBeLessThan(1000);
    const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [result.instance_id!] }));
    expect(Reservations[0]?.Instances?.[0]?.State?.Name).toBe('terminated');
  }, 600_000);

  it('refuses SSH to a running instance until its status checks pass, as EC2 does while it initializes', async () => {
    // 1 simulated s = 0.1 s; pending cut to 1 s, SSH ready after 3000 simulated s (300 s): far
    // longer than this test needs to see the refusal.
    const c = await startCloud({ ...AWS_LATENCY, name: 'aws', timeScale: 0.1, pendingS: 1, sshReadyS: 3000 });
    const ec2 = new EC2Client({ region, endpoint: c.endpoint, credentials: c.credentials });
    clients.push(ec2);
    const keyDir = mkdtempSync(path.join(tmpdir(), 'bake-simulated-launch-key-'));
    dirs.push(keyDir);
    const keys = await makeKeyPair(keyDir);
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'held', PublicKeyMaterial: Buffer.from(keys.publicKey) }));
    const run = await ec2.send(
      new RunInstancesCommand({ ImageId: baseImageId(region), KeyName: 'held', MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    const wait = { client: ec2, maxWaitTime: 300, minDelay: 0.2, maxDelay: 1 };
    try {
      await waitUntilInstanceRunning(wait, { InstanceIds: [instanceId] });
      const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const ip = Reservations[0].Instances![0].PrivateIpAddress!;

      const refused = await ssh(keys.privateKey, { ip, sshPort: c.sshPort }, 'true');
      expect(refused.exitCode).toBe(255);
      // Refused at once (a reset), not a dropped packet the client would wait out.
      expect(refused.all).toMatch(/Connection refused/);
      const status = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [instanceId] }));
      expect(status.InstanceStatuses![0].InstanceStatus!.Status).toBe('initializing');
    } finally {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      await waitUntilInstanceTerminated(wait, { InstanceIds: [instanceId] });
      await ec2.send(new DeleteKeyPairCommand({ KeyName: 'held' }));
    }
  }, 600_000);
});
