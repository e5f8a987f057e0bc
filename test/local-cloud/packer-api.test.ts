import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
} from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from './memory-host.js';

const TEMPLATE = path.resolve('test/fixtures/local-cloud/no-ssh.pkr.hcl');

describe('the real Packer 1.6.6 amazon-ebs builder against the local EC2 API', () => {
  let t: TestCloud;
  let manifest: { builds: Array<{ artifact_id: string }> };
  let output: string;
  beforeAll(async () => {
    t = await startTestCloud();
    const manifestFile = path.join(t.stateDir, 'manifest.json');
    const result = await execa(
      'packer',
      ['build', '-color=false', '-var', `endpoint=${t.cloud.endpoint}`, '-var', `manifest=${manifestFile}`, TEMPLATE],
      {
        env: {
          ...t.cloud.env,
          HOME: t.stateDir,
          PACKER_CACHE_DIR: path.join(t.stateDir, 'cache'),
          CHECKPOINT_DISABLE: '1',
        },
        extendEnv: false,
        reject: false,
        all: true,
      },
    );
    output = result.all ?? '';
    expect(result.exitCode, output).toBe(0);
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  });
  afterAll(() => t.close());

  function amis(): Record<string, string> {
    return Object.fromEntries(manifest.builds[0].artifact_id.split(',').map((pair) => pair.split(':')));
  }

  it('writes a manifest with the AMI in the build region and its copy', () => {
    expect(Object.keys(amis()).sort()).toEqual(['eu-west-1', 'us-east-1']);
    expect(amis()['us-east-1']).not.toBe(amis()['eu-west-1']);
  });

  it('tags both AMIs and their encrypted snapshots and shares them with the named account', async () => {
    for (const [region, imageId] of Object.entries(amis())) {
      const ec2 = t.ec2(region);
      const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
      expect(image.State).toBe('available');
      expect(image.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'bake:recipe', Value: 'api' },
          { Key: 'bake:fingerprint', Value: '0123456789ab' },
        ]),
      );
      expect(image.BlockDeviceMappings![0].Ebs!.VolumeSize).toBe(12);
      const [snapshot] = (
        await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [image.BlockDeviceMappings![0].Ebs!.SnapshotId!] }))
      ).Snapshots!;
      // Packer 1.6.6 puts the AMI's tags on its snapshots too, then snapshot_tags on top.
      expect(snapshot.Tags).toEqual(expect.arrayContaining([{ Key: 'bake:recipe', Value: 'api' }]));
      // The launch volume was encrypted with this key: its image's snapshots are, without an encrypt_boot copy.
      expect([snapshot.Encrypted, snapshot.KmsKeyId, image.BlockDeviceMappings![0].Ebs!.Encrypted]).toEqual([
        true,
        'alias/bake-images',
        true,
      ]);
      const { LaunchPermissions } = await ec2.send(
        new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
      );
      expect(LaunchPermissions).toEqual([{ UserId: '111122223333' }]);
    }
  });

  it('leaves no builder instance, temporary key pair or security group behind', async () => {
    const ec2 = t.ec2();
    const instances = (await ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!);
    expect(instances.map((i) => i.State!.Name)).toEqual(['terminated']);
    expect((await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs).toEqual([]);
    expect((await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!.map((g) => g.GroupName)).toEqual([
      'default',
    ]);
  });

  it('captured the builder filesystem and gave the copy the same one', () => {
    const { 'us-east-1': source, 'eu-west-1': copy } = amis();
    expect(t.host.calls.some((c) => c.startsWith('capture ') && c.endsWith(source))).toBe(true);
    expect(t.host.calls).toContain(`alias ${source} ${copy}`);
  });
});
