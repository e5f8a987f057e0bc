import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  ImportKeyPairCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { makeKeyPair, networkLeftovers, processesUsing, ssh, testBaseRootfs, testRootfsCache } from './instances.js';
import { imageOfInstance } from './bake-image.js';

// The local cloud as `bake --local` runs it: EC2 over HTTP, and the boot host it loads itself.
const stateDir = mkdtempSync(path.join(tmpdir(), 'bake-local-cloud-host-'));
let cloud: LocalCloud;
let ec2: EC2Client;
let keys: { privateKey: string; publicKey: string };
const previousCache = process.env.BAKE_ROOTFS_CACHE;

beforeAll(async () => {
  process.env.BAKE_ROOTFS_CACHE = testRootfsCache();
  await testBaseRootfs();
  keys = await makeKeyPair(stateDir);
  cloud = await startLocalCloud({ stateDir });
  ec2 = new EC2Client({
    region: 'us-east-1',
    endpoint: cloud.endpoint,
    credentials: cloud.credentials,
    maxAttempts: 1,
  });
}, 900_000);

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
  if (previousCache === undefined) delete process.env.BAKE_ROOTFS_CACHE;
  else process.env.BAKE_ROOTFS_CACHE = previousCache;
  rmSync(stateDir, { recursive: true, force: true });
});

async function until<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('an instance run through the local EC2 API', () => {
  it('boots on the host: UserData run by cloud-init, reachable over SSH with the imported key, captured into an image, gone when terminated', async () => {
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'bake', PublicKeyMaterial: Buffer.from(keys.publicKey) }));
    const userData = '#cloud-config\nwrite_files:\n  - path: /etc/from-user-data\n    content: "given at launch\\n"\n';
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImageId('us-east-1'),
        KeyName: 'bake',
        MinCount: 1,
        MaxCount: 1,
        UserData: Buffer.from(userData).toString('base64'),
      }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    const ip = await until(async () => {
      const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const instance = described.Reservations![0].Instances![0];
      return instance.State?.Name === 'running' ? (instance.PublicIpAddress ?? instance.PrivateIpAddress) : undefined;
    });
    const endpoint = { ip, sshPort: cloud.sshPort };
    expect(cloud.sshPort).toBe(22);
    expect(
      (await ssh(keys.privateKey, endpoint, 'echo baked > /etc/through-the-api && cat /etc/debian_version')).stdout,
    ).toMatch(/^12\./);
    const booted = await ssh(
      keys.privateKey,
      endpoint,
      'cloud-init status --wait >/dev/null; cloud-init status; cat /etc/from-user-data',
    );
    expect(booted.stdout).toBe('status: done\ngiven at launch');
    const attribute = await ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
    );
    expect(Buffer.from(attribute.UserData!.Value!, 'base64').toString()).toBe(userData);
    const console = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId }));
    expect(Buffer.from(console.Output!, 'base64').toString()).toMatch(/Multi-User System/);

    const ImageId = await imageOfInstance(ec2, instanceId, 'through-the-api', { maxWaitSeconds: 300 });

    const second = await ec2.send(new RunInstancesCommand({ ImageId, KeyName: 'bake', MinCount: 1, MaxCount: 1 }));
    const secondId = second.Instances![0].InstanceId!;
    const secondIp = await until(async () => {
      const instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [secondId] }))).Reservations![0]
        .Instances![0];
      return instance.State?.Name === 'running' ? (instance.PublicIpAddress ?? instance.PrivateIpAddress) : undefined;
    });
    expect(
      (await ssh(keys.privateKey, { ip: secondIp, sshPort: cloud.sshPort }, 'cat /etc/through-the-api')).stdout,
    ).toBe('baked');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [secondId] }));
    await cloud.close();
    expect(processesUsing(stateDir)).toEqual([]);
    expect(await networkLeftovers([ip, secondIp])).toEqual([]);
  });
});
