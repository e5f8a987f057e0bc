import {
  CreateKeyPairCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeTagsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from './memory-host.js';
import { bakeTestImage } from './bake-image.js';

describe('tags in the local cloud', () => {
  let t: TestCloud;
  let ec2: EC2Client;
  let imageId: string;
  beforeAll(async () => {
    t = await startTestCloud();
    ec2 = t.ec2();
    imageId = await bakeTestImage(ec2, 'us-east-1', 'tagged');
  });
  afterAll(() => t.close());

  const tagsOf = async (id: string) =>
    Object.fromEntries(
      ((await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }))).Tags ?? []).map(
        (tag) => [tag.Key, tag.Value],
      ),
    );

  it('overwrites a key, deletes by key or only on a matching value', async () => {
    await ec2.send(
      new CreateTagsCommand({
        Resources: [imageId],
        Tags: [
          { Key: 'a', Value: '1' },
          { Key: 'b', Value: '2' },
          { Key: '__proto__', Value: 'x' },
        ],
      }),
    );
    await ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: 'a', Value: 'one' }] }));
    expect(await tagsOf(imageId)).toEqual({ a: 'one', b: '2', ['__proto__']: 'x' });
    await ec2.send(
      new DeleteTagsCommand({ Resources: [imageId], Tags: [{ Key: 'a', Value: 'not-one' }, { Key: 'b' }] }),
    );
    expect(Object.keys(await tagsOf(imageId)).sort()).toEqual(['__proto__', 'a']);
  });

  it('filters by resource type', async () => {
    const { KeyPairId } = await ec2.send(
      new CreateKeyPairCommand({
        KeyName: 'tagged-key',
        TagSpecifications: [{ ResourceType: 'key-pair', Tags: [{ Key: 'owner', Value: 'ci' }] }],
      }),
    );
    const { Tags = [] } = await ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-type', Values: ['key-pair'] }] }),
    );
    expect(Tags).toEqual([{ ResourceId: KeyPairId, ResourceType: 'key-pair', Key: 'owner', Value: 'ci' }]);
  });

  it('refuses unknown resources and more than 50 tags, changing nothing', async () => {
    await expect(
      ec2.send(new CreateTagsCommand({ Resources: ['ami-0000000000000000f'], Tags: [{ Key: 'a', Value: 'b' }] })),
    ).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });
    await expect(
      ec2.send(new CreateTagsCommand({ Resources: ['web-1'], Tags: [{ Key: 'a', Value: 'b' }] })),
    ).rejects.toMatchObject({ name: 'InvalidID' });
    const before = await tagsOf(imageId);
    const many = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await expect(ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: many }))).rejects.toMatchObject({
      name: 'TagLimitExceeded',
    });
    expect(await tagsOf(imageId)).toEqual(before);
  });
});
