/**
 * The image `bake build` leaves for a planned recipe, made the way Packer makes it against the
 * local cloud (an instance from the source image, stopped, imaged) with the tags bake puts on
 * it, including `bake:distribution` for a distribution that finished.
 */
import {
  CreateImageCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  waitUntilImageAvailable,
  waitUntilInstanceStopped,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { distributionTag } from '../../src/lifecycle/distribution-settings.js';
import { DISTRIBUTION_TAG } from '../../src/tags/tag-contract.js';
import { imageTags } from '../../src/pipeline/build-tags.js';

const WAIT = { maxWaitTime: 30, minDelay: 1, maxDelay: 1 };

export interface BuiltEntry {
  name: string;
  fingerprint: string;
  inputs: string;
  baseAmi: string;
  parent?: string;
}

/** Settings of a recipe that declares no sharing or deprecation (IMDSv2 on, the default). */
export const DEFAULT_DISTRIBUTION = distributionTag({ shareWith: [], imdsv2: true });

export async function imageAsBuilt(
  ec2: EC2Client,
  entry: BuiltEntry,
  sourceAmi: string,
  gitCommit = 'unknown',
): Promise<string> {
  const run = await ec2.send(
    new RunInstancesCommand({ ImageId: sourceAmi, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
  );
  const instanceId = run.Instances![0].InstanceId!;
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  await waitUntilInstanceStopped({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
  const tags: Record<string, string> = {
    ...imageTags({
      recipe: entry.name,
      userTags: {},
      fingerprint: entry.fingerprint,
      gitCommit,
      baseAmi: entry.baseAmi || sourceAmi,
      parentAmi: entry.parent ? sourceAmi : undefined,
      builtAt: new Date().toISOString(),
      inputs: entry.inputs,
    }),
    [DISTRIBUTION_TAG]: DEFAULT_DISTRIBUTION,
  };
  const { ImageId } = await ec2.send(
    new CreateImageCommand({
      InstanceId: instanceId,
      Name: `${tags.Name}-${instanceId}`,
      TagSpecifications: [
        { ResourceType: 'image', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
      ],
    }),
  );
  await waitUntilImageAvailable({ client: ec2, ...WAIT }, { ImageIds: [ImageId!] });
  return ImageId!;
}
