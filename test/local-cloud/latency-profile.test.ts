/**
 * The local cloud's latency profile over real HTTP: states stay pending for the simulated time
 * (so the SDK's waiters really wait), and bursts are answered RequestLimitExceeded, which the
 * SDK's retry with backoff (bake's own clients) gets through. Lower bounds only: load makes waits
 * longer, never shorter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateImageCommand,
  DescribeImagesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilImageAvailable,
  waitUntilInstanceRunning,
  waitUntilInstanceStatusOk,
  waitUntilInstanceStopped,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { createEc2Client } from '../../src/aws/clients.js';
import { createParameterStore } from '../../src/aws/ssm-parameters.js';
import {
  AWS_LATENCY,
  baseImageId,
  latencyProfileFromEnv,
  startLocalCloud,
  type LatencyProfile,
  type LocalCloud,
} from '../../src/local-cloud/index.js';
import { MemoryHost } from './memory-host.js';

let cloud: LocalCloud | undefined;
let stateDir: string | undefined;
const clients: { destroy(): void }[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await cloud?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  cloud = undefined;
});

async function startWith(latency: LatencyProfile): Promise<LocalCloud> {
  stateDir = mkdtempSync(path.join(tmpdir(), 'bake-latency-'));
  cloud = await startLocalCloud({ stateDir, host: new MemoryHost(), latency });
  return cloud;
}

/** A client that does not retry: sees every answer as it is. */
function plainClient(c: LocalCloud): EC2Client {
  const client = new EC2Client({
    region: 'us-east-1',
    endpoint: c.endpoint,
    credentials: c.credentials,
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

const stateOf = async (ec2: EC2Client, instanceId: string) =>
  (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0].Instances![0].State!
    .Name;

describe('the local cloud with the aws latency profile', () => {
  it('keeps an instance pending, initializing, stopping and its image pending for the simulated times, and the SDK waiters wait them out', async () => {
    // 1 simulated s = 0.1 s: pending 3 s, SSH 2 s, stopping 4 s; CreateImage shortened to 3 s for the test.
    const c = await startWith({ ...AWS_LATENCY, name: 'aws', timeScale: 0.1, createImageS: 30 });
    const ec2 = plainClient(c);
    const wait = { client: ec2, maxWaitTime: 120, minDelay: 0.2, maxDelay: 0.2 };

    let started = Date.now();
    const run = await ec2.send(
      new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    expect(await stateOf(ec2, instanceId)).toBe('pending');
    await waitUntilInstanceRunning(wait, { InstanceIds: [instanceId] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);

    // Running, but its status checks (what stands for sshd answering) pass 20 simulated s later.
    started = Date.now();
    const status = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [instanceId] }));
    expect(status.InstanceStatuses![0].InstanceStatus!.Details![0].Status).toBe('initializing');
    await waitUntilInstanceStatusOk(wait, { InstanceIds: [instanceId] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);

    started = Date.now();
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    expect(await stateOf(ec2, instanceId)).toBe('stopping');
    await waitUntilInstanceStopped(wait, { InstanceIds: [instanceId] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000);

    started = Date.now();
    const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'latency-test' }));
    const image = await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }));
    expect(image.Images![0].State).toBe('pending');
    // As on EC2, the instance may go while its image is still being made.
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntilImageAvailable(wait, { ImageIds: [ImageId!] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  }, 120_000);

  it('answers a burst beyond the bucket with RequestLimitExceeded (503), and bake’s SDK clients retry through it', async () => {
    // Buckets small enough that a burst of 12 overflows them; refill in simulated seconds (= real ones here).
    const bucket = { burst: 4, refillPerSecond: 4 };
    const c = await startWith({
      ...AWS_LATENCY,
      name: 'aws',
      timeScale: 1,
      throttle: { 'non-mutating': bucket, mutating: bucket, 'resource-intensive': bucket },
    });
    const burst = (ec2: EC2Client) =>
      Promise.allSettled(Array.from({ length: 12 }, () => ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))));

    const refused = (await burst(plainClient(c)))
      .filter((r) => r.status === 'rejected')
      .map((r) => (r as PromiseRejectedResult).reason);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } });
    expect(c.throttled.get('DescribeImages')).toBe(refused.length);

    // bake's own client (src/aws/clients.ts): the same burst all succeeds, after retries the cloud counted.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const before = c.throttled.get('DescribeImages')!;
    const bake = createEc2Client({ endpoint: c.endpoint, credentials: c.credentials }, 'us-east-1');
    clients.push(bake);
    const results = await burst(bake);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(c.throttled.get('DescribeImages')!).toBeGreaterThan(before);
  }, 120_000);

  it('throttles SSM Parameter Store calls on their own buckets with ThrottlingException (400, JSON), and bake’s parameter store retries through them', async () => {
    const tiny = { burst: 3, refillPerSecond: 3 };
    const c = await startWith({
      ...AWS_LATENCY,
      name: 'aws',
      timeScale: 1,
      ssmThrottle: { 'parameter-reads': tiny, 'parameter-writes': tiny, 'parameter-listings': tiny },
    });
    const plainSsm = new SSMClient({
      region: 'us-east-1',
      endpoint: c.endpoint,
      credentials: c.credentials,
      maxAttempts: 1,
    });
    clients.push(plainSsm);
    const name = '/aws/service/debian/release/12/latest/amd64';
    const reads = await Promise.allSettled(
      Array.from({ length: 10 }, () => plainSsm.send(new GetParameterCommand({ Name: name }))),
    );
    const refused = reads.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    expect(refused[0].message).toBe('Rate exceeded');
    expect(c.throttled.get('AmazonSSM.GetParameter')).toBe(refused.length);
    // SSM's buckets are SSM's own: EC2 calls in the same region are not refused meanwhile.
    expect((await plainClient(c).send(new DescribeImagesCommand({ Owners: ['self'] }))).Images).toBeDefined();

    // bake's parameter store (src/aws/ssm-parameters.ts over src/aws/clients.ts): a burst of pins
    // and reads all gets through, after retries the cloud counted as throttled.
    const store = createParameterStore({ endpoint: c.endpoint, credentials: c.credentials });
    clients.push({ destroy: () => store.close() });
    const ami = baseImageId('us-east-1');
    const writes = await Promise.allSettled(
      Array.from({ length: 9 }, (_, i) => store.writeImage('us-east-1', `/bake/test/pin-${i}`, ami)),
    );
    expect(writes.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(c.throttled.get('AmazonSSM.PutParameter')).toBeGreaterThan(0);
    const values = await Promise.all(
      Array.from({ length: 9 }, (_, i) => store.read('us-east-1', [`/bake/test/pin-${i}`])),
    );
    expect(values.map((v) => [...v.values()])).toEqual(Array.from({ length: 9 }, () => [ami]));
  }, 120_000);

  it('reads the profile from BAKE_LOCAL_LATENCY and BAKE_LOCAL_TIME_SCALE, and refuses wrong values in one line', () => {
    expect(latencyProfileFromEnv({})).toBeUndefined();
    expect(latencyProfileFromEnv({ BAKE_LOCAL_LATENCY: 'aws', BAKE_LOCAL_TIME_SCALE: '0.01' })).toMatchObject({
      name: 'aws',
      timeScale: 0.01,
      pendingS: 30,
      copyImageS: 480,
    });
    expect(latencyProfileFromEnv({ BAKE_LOCAL_LATENCY: 'aws' })?.timeScale).toBe(1);
    expect(() => latencyProfileFromEnv({ BAKE_LOCAL_LATENCY: 'azure' })).toThrow(
      /BAKE_LOCAL_LATENCY="azure" is not a latency profile: use aws or none/,
    );
    expect(() => latencyProfileFromEnv({ BAKE_LOCAL_LATENCY: 'aws', BAKE_LOCAL_TIME_SCALE: '-1' })).toThrow(
      /BAKE_LOCAL_TIME_SCALE="-1" is not a time scale/,
    );
    expect(() => latencyProfileFromEnv({ BAKE_LOCAL_TIME_SCALE: '0.1' })).toThrow(/BAKE_LOCAL_LATENCY is not/);
  });
});
