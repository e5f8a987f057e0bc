import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CopyImageCommand,
  CreateImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  waitUntilImageAvailable,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGES } from '../../src/local-cloud/instance-host.js';
import { baseImageId, startLocalCloud } from '../../src/local-cloud/index.js';
import { MemoryHost, startTestCloud, type TestCloud } from './memory-host.js';

const WAIT = { maxWaitTime: 30, minDelay: 1, maxDelay: 1 };

describe('x86_64 and arm64 in the local cloud', () => {
  let t: TestCloud;
  let ec2: EC2Client;
  beforeAll(async () => {
    t = await startTestCloud();
    ec2 = t.ec2();
  });
  afterAll(() => t.close());

  it('seeds Debian’s arm64 image beside the amd64 one, named as Debian names them, and filters by architecture', async () => {
    const byArchitecture = async (architecture: string) =>
      (
        await ec2.send(
          new DescribeImagesCommand({
            Owners: ['136693071363'],
            Filters: [
              { Name: 'name', Values: ['debian-12-*'] },
              { Name: 'architecture', Values: [architecture] },
            ],
          }),
        )
      ).Images ?? [];
    const arm = await byArchitecture('arm64');
    expect(arm.map((i) => [i.ImageId, i.Name, i.Architecture])).toEqual([
      [baseImageId('us-east-1', 'arm64'), 'debian-12-arm64-20261101-1', 'arm64'],
    ]);
    const amd = await byArchitecture('x86_64');
    expect(amd.map((i) => [i.ImageId, i.Name, i.Architecture])).toEqual([
      [baseImageId('us-east-1'), 'debian-12-amd64-20261101-1', 'x86_64'],
    ]);
  });

  it('answers Debian’s public SSM parameter for the latest arm64 image', async () => {
    const ssm = new SSMClient({
      region: 'eu-west-1',
      endpoint: t.cloud.endpoint,
      credentials: t.cloud.credentials,
      maxAttempts: 1,
    });
    try {
      const { Parameter } = await ssm.send(
        new GetParameterCommand({ Name: '/aws/service/debian/release/12/latest/arm64' }),
      );
      expect(Parameter?.Value).toBe(baseImageId('eu-west-1', 'arm64'));
    } finally {
      ssm.destroy();
    }
  });

  it('refuses an instance type of the other architecture with EC2’s error code and message', async () => {
    await expect(
      ec2.send(
        new RunInstancesCommand({
          ImageId: baseImageId('us-east-1', 'arm64'),
          InstanceType: 't3.small',
          MinCount: 1,
          MaxCount: 1,
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringMatching(
        /^The architecture 'x86_64' of the specified instance type does not match the architecture 'arm64' of the specified AMI\. Specify an instance type and an AMI that have matching architectures/,
      ),
    });
    await expect(
      ec2.send(
        new RunInstancesCommand({
          ImageId: baseImageId('us-east-1'),
          InstanceType: 'm7g.large',
          MinCount: 1,
          MaxCount: 1,
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringContaining(
        "The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64'",
      ),
    });
    // Nothing was launched for either refusal.
    expect(t.host.calls.filter((call) => call.startsWith('launch'))).toEqual([]);
  });

  it('boots an arm64 type from the arm64 base, shows its architecture, and keeps it through CreateImage and CopyImage', async () => {
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImageId('us-east-1', 'arm64'),
        InstanceType: 't4g.small',
        MinCount: 1,
        MaxCount: 1,
      }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    expect(run.Instances![0].Architecture).toBe('arm64');
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    expect(t.host.calls).toContain(`launch ${instanceId} ${BASE_IMAGES.arm64}`);
    expect(t.host.launchedArchitectures.get(instanceId)).toBe('arm64');

    const described = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'architecture', Values: ['arm64'] }] }),
    );
    const instances = described.Reservations!.flatMap((r) => r.Instances ?? []);
    expect(instances.map((i) => [i.InstanceId, i.Architecture, i.InstanceType])).toEqual([
      [instanceId, 'arm64', 't4g.small'],
    ]);

    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntilInstanceStopped({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'web-arm64-1' }));
    await waitUntilImageAvailable({ client: ec2, ...WAIT }, { ImageIds: [ImageId!] });
    const copy = await t
      .ec2('eu-west-1')
      .send(new CopyImageCommand({ SourceImageId: ImageId, SourceRegion: 'us-east-1', Name: 'web-arm64-1' }));
    await waitUntilImageAvailable({ client: t.ec2('eu-west-1'), ...WAIT }, { ImageIds: [copy.ImageId!] });
    const [made] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images!;
    const [copied] = (await t.ec2('eu-west-1').send(new DescribeImagesCommand({ ImageIds: [copy.ImageId!] }))).Images!;
    expect([made.Architecture, copied.Architecture]).toEqual(['arm64', 'arm64']);

    // An instance of the baked image is arm64 too, and the host is told so.
    const second = await ec2.send(
      new RunInstancesCommand({ ImageId, InstanceType: 'c7g.medium', MinCount: 1, MaxCount: 1 }),
    );
    const secondId = second.Instances![0].InstanceId!;
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [secondId] });
    expect(t.host.launchedArchitectures.get(secondId)).toBe('arm64');
  });
});

describe('a local cloud state made before arm64 existed', () => {
  it('gains the arm64 base image in the regions it had seeded, keeping what it held', async () => {
    const first = await startTestCloud();
    const amd64 = baseImageId('us-east-1');
    const arm64 = baseImageId('us-east-1', 'arm64');
    try {
      await first.ec2().send(new DescribeImagesCommand({ ImageIds: [amd64] }));
      await first.cloud.close();
      // What an older bake wrote: the region seeded with its amd64 base only.
      const file = path.join(first.stateDir, 'state.json');
      const state = JSON.parse(readFileSync(file, 'utf8')) as { images: Array<{ imageId: string }> };
      state.images = state.images.filter((image) => image.imageId !== arm64);
      writeFileSync(file, JSON.stringify(state));

      const again = await startLocalCloud({ stateDir: first.stateDir, host: new MemoryHost() });
      const { EC2Client } = await import('@aws-sdk/client-ec2');
      const ec2 = new EC2Client({
        region: 'us-east-1',
        endpoint: again.endpoint,
        credentials: again.credentials,
        maxAttempts: 1,
      });
      try {
        const { Images = [] } = await ec2.send(new DescribeImagesCommand({ Owners: ['136693071363'] }));
        expect(Images.map((i) => i.ImageId).sort()).toEqual([amd64, arm64].sort());
      } finally {
        ec2.destroy();
        await again.close();
      }
    } finally {
      await first.close().catch(() => undefined);
    }
  });
});
