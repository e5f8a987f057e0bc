import { CopyImageCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { baseImageId } from '../../src/local-cloud/index.js';

/** An image in `region` as bake's listing sees one: a copy of the seeded base image, with these tags. */
export async function taggedCopyOfBase(
  ec2: EC2Client,
  region: string,
  tags: Record<string, string>,
  name: string,
): Promise<string> {
  const { ImageId } = await ec2.send(
    new CopyImageCommand({
      SourceImageId: baseImageId('us-east-1'),
      SourceRegion: 'us-east-1',
      Name: name,
      TagSpecifications: [
        { ResourceType: 'image', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
      ],
    }),
  );
  return ImageId!;
}
