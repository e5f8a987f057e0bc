import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CopyImageCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveBaseImage } from '../../src/aws/base-image.js';
import { countEc2Calls, createEc2Client, type CallCounter } from '../../src/aws/clients.js';
import { createImageCatalog } from '../../src/aws/image-catalog.js';
import type { AwsSettings } from '../../src/aws/settings.js';
import { tagImage } from '../../src/aws/tag-image.js';
import { waitForImage } from '../../src/aws/wait-for-image.js';
import { CloudError } from '../../src/errors/index.js';
import { baseImageId, BASE_IMAGE_NAME } from '../../src/local-cloud/index.js';
import { bakeTestImage } from '../local-cloud/bake-image.js';
import { startTestCloud, type TestCloud } from '../local-cloud/memory-host.js';

describe("bake's AWS layer over HTTP against the local cloud", () => {
  let t: TestCloud;
  let settings: AwsSettings;
  let home: string;
  beforeAll(async () => {
    t = await startTestCloud();
    settings = { endpoint: t.cloud.endpoint };
    home = mkdtempSync(path.join(tmpdir(), 'bake-aws-'));
    // Written before any client exists: the SDK reads the shared files once per process.
    writeFileSync(
      path.join(home, 'credentials'),
      `[ci]\naws_access_key_id = ${t.cloud.credentials.accessKeyId}\naws_secret_access_key = ${t.cloud.credentials.secretAccessKey}\n`,
    );
    // The SDK's standard chain, fed the way a Jenkins agent would be: environment credentials, no profile files.
    vi.stubEnv('AWS_ACCESS_KEY_ID', t.cloud.credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', t.cloud.credentials.secretAccessKey);
    vi.stubEnv('AWS_PROFILE', undefined as unknown as string);
    vi.stubEnv('AWS_CONFIG_FILE', path.join(home, 'config'));
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', path.join(home, 'credentials'));
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    rmSync(home, { recursive: true, force: true });
    await t.close();
  });

  describe('the image catalog', () => {
    it('lists every baked image of every region with one DescribeImages call per region', async () => {
      const east = t.ec2('us-east-1');
      const web1 = await bakeTestImage(east, 'us-east-1', 'web-1', { 'bake:recipe': 'web', 'bake:fingerprint': 'aaa' });
      const web2 = await bakeTestImage(east, 'us-east-1', 'web-2', {
        'bake:recipe': 'web',
        'bake:fingerprint': 'bbb',
        team: 'frontend',
      });
      await bakeTestImage(east, 'us-east-1', 'hand-made');
      const west = t.ec2('eu-west-1');
      const copy = await west.send(
        new CopyImageCommand({ SourceImageId: web2, SourceRegion: 'us-east-1', Name: 'web-2', CopyImageTags: true }),
      );
      await waitForImage(settings, 'eu-west-1', copy.ImageId!, 30);

      const counters = new Map<string, CallCounter>();
      const catalog = createImageCatalog(settings, (region) => {
        const client = createEc2Client(settings, region);
        counters.set(region, countEc2Calls(client));
        return client;
      });
      const records = await catalog.listBakedImages(['us-east-1', 'eu-west-1', 'us-east-1']);

      expect(records.map((r) => [r.region, r.imageId]).sort()).toEqual(
        [
          ['eu-west-1', copy.ImageId],
          ['us-east-1', web1],
          ['us-east-1', web2],
        ].sort(),
      );
      const record = records.find((r) => r.imageId === web2)!;
      expect(record).toMatchObject({
        recipe: 'web',
        fingerprint: 'bbb',
        name: 'web-2',
        state: 'available',
        tags: { team: 'frontend' },
      });
      expect(record.snapshotIds).toHaveLength(1);
      expect(record.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect([...counters].map(([region, c]) => [region, c.count, Object.fromEntries(c.byOperation)])).toEqual([
        ['us-east-1', 1, { DescribeImages: 1 }],
        ['eu-west-1', 1, { DescribeImages: 1 }],
      ]);
    });
  });

  describe('base images', () => {
    it('picks the most recent image matching a name filter among the owners', async () => {
      const resolved = await resolveBaseImage(
        settings,
        { kind: 'filter', name: 'debian-12-amd64-*', owners: ['136693071363'] },
        'eu-west-1',
      );
      expect(resolved).toEqual({ imageId: baseImageId('eu-west-1'), name: BASE_IMAGE_NAME });
    });

    it('prefers the newer of two matching images by creation date', async () => {
      const east = t.ec2('us-east-1');
      const older = await bakeTestImage(east, 'us-east-1', 'golden-2026-01');
      await new Promise((resolve) => setTimeout(resolve, 5));
      const newer = await bakeTestImage(east, 'us-east-1', 'golden-2026-02');
      const resolved = await resolveBaseImage(
        settings,
        { kind: 'filter', name: 'golden-*', owners: ['self'] },
        'us-east-1',
      );
      expect(resolved.imageId).toBe(newer);
      expect(resolved.imageId).not.toBe(older);
    });

    it('says what it looked for when no image matches', async () => {
      const attempt = resolveBaseImage(
        settings,
        { kind: 'filter', name: 'debian-13-*', owners: ['136693071363'] },
        'eu-west-1',
      );
      await expect(attempt).rejects.toBeInstanceOf(CloudError);
      await expect(attempt).rejects.toThrow('no image matches debian-13-* owned by 136693071363 in eu-west-1');
    });

    it('checks that an AMI id exists in the region', async () => {
      expect(await resolveBaseImage(settings, { kind: 'ami', ami: baseImageId('us-east-1') }, 'us-east-1')).toEqual({
        imageId: baseImageId('us-east-1'),
        name: BASE_IMAGE_NAME,
      });
      await expect(
        resolveBaseImage(settings, { kind: 'ami', ami: baseImageId('us-east-1') }, 'eu-west-1'),
      ).rejects.toThrow(`base image ${baseImageId('us-east-1')} does not exist in eu-west-1`);
    });

    it('reads an SSM parameter, and names a missing one', async () => {
      const parameter = '/aws/service/debian/release/12/latest/amd64';
      expect(await resolveBaseImage(settings, { kind: 'ssm', parameter }, 'eu-west-1')).toEqual({
        imageId: baseImageId('eu-west-1'),
      });
      await expect(resolveBaseImage(settings, { kind: 'ssm', parameter: '/nope' }, 'eu-west-1')).rejects.toThrow(
        'SSM parameter /nope does not exist in eu-west-1',
      );
    });

    it('leaves a recipe base to the plan', async () => {
      await expect(resolveBaseImage(settings, { kind: 'recipe', recipe: 'base' }, 'us-east-1')).rejects.toBeInstanceOf(
        CloudError,
      );
    });
  });

  describe('tagging', () => {
    it('tags the AMI and its snapshots and returns the snapshot ids', async () => {
      const east = t.ec2('us-east-1');
      const imageId = await bakeTestImage(east, 'us-east-1', 'tag-me');
      const tags = {
        Name: 'web 2026-11-22',
        'bake:recipe': 'web',
        'bake:built-at': '2026-11-22T10:00:00Z',
        quote: `it's "fine" & <ok>`,
      };
      const snapshotIds = await tagImage(settings, 'us-east-1', imageId, tags);
      expect(snapshotIds).toHaveLength(1);
      const [image] = (await east.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
      const [snapshot] = (await east.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }))).Snapshots!;
      const asObject = (list: Array<{ Key?: string; Value?: string }> = []) =>
        Object.fromEntries(list.map((tag) => [tag.Key, tag.Value]));
      expect(asObject(image.Tags)).toEqual(tags);
      expect(asObject(snapshot.Tags)).toEqual(tags);
    });

    it('reports an image that is not there as a one-line cloud error', async () => {
      const attempt = tagImage(settings, 'us-east-1', 'ami-0000000000000000f', { a: 'b' });
      await expect(attempt).rejects.toBeInstanceOf(CloudError);
      await expect(attempt).rejects.toThrow(/^tagging ami-0000000000000000f in us-east-1: InvalidAMIID.NotFound: /);
    });

    it('reports EC2 refusing a tag', async () => {
      const east = t.ec2('us-east-1');
      const imageId = await bakeTestImage(east, 'us-east-1', 'bad-tag');
      await expect(tagImage(settings, 'us-east-1', imageId, { 'aws:reserved': 'x' })).rejects.toThrow(
        /InvalidParameterValue/,
      );
      await east.send(new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: 'ok', Value: '' }] }));
    });
  });

  describe('credentials', () => {
    it('uses the named profile from the shared credentials file', async () => {
      vi.stubEnv('AWS_ACCESS_KEY_ID', undefined as unknown as string);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined as unknown as string);
      try {
        const ec2 = createEc2Client({ ...settings, profile: 'ci' }, 'us-east-1');
        const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [baseImageId('us-east-1')] }));
        expect(Images).toHaveLength(1);
        ec2.destroy();
        const missing = createEc2Client({ ...settings, profile: 'nobody' }, 'us-east-1');
        await expect(missing.send(new DescribeImagesCommand({}))).rejects.toThrow(/credentials/);
        missing.destroy();
      } finally {
        vi.stubEnv('AWS_ACCESS_KEY_ID', t.cloud.credentials.accessKeyId);
        vi.stubEnv('AWS_SECRET_ACCESS_KEY', t.cloud.credentials.secretAccessKey);
      }
    });
  });
});
