import {
  CreateImageCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilImageAvailable,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { baseImageId } from '../../src/local-cloud/index.js';

const WAIT = { maxWaitTime: 30, minDelay: 1, maxDelay: 1 };

/** What a Packer build does, in four calls: boot the Debian base, stop it, image it, throw the instance away. */
export async function bakeTestImage(
  ec2: EC2Client,
  region: string,
  name: string,
  tags: Record<string, string> = {},
): Promise<string> {
  const run = await ec2.send(new RunInstancesCommand({ ImageId: baseImageId(region), MinCount: 1, MaxCount: 1 }));
  const instanceId = run.Instances![0].InstanceId!;
  await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
  return imageOfInstance(ec2, instanceId, name, { tags });
}

/**
 * The end of a Packer build: stop the instance, wait for `stopped` before imaging (as Packer
 * does), image it, wait until the image is available, throw the instance away.
 */
export async function imageOfInstance(
  ec2: EC2Client,
  instanceId: string,
  name: string,
  options: { tags?: Record<string, string>; maxWaitSeconds?: number } = {},
): Promise<string> {
  const wait = { client: ec2, ...WAIT, maxWaitTime: options.maxWaitSeconds ?? WAIT.maxWaitTime };
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  await waitUntilInstanceStopped(wait, { InstanceIds: [instanceId] });
  const Tags = Object.entries(options.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  const { ImageId } = await ec2.send(
    new CreateImageCommand({
      InstanceId: instanceId,
      Name: name,
      TagSpecifications: Tags.length ? [{ ResourceType: 'image', Tags }] : undefined,
    }),
  );
  await waitUntilImageAvailable(wait, { ImageIds: [ImageId!] });
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  return ImageId!;
}
