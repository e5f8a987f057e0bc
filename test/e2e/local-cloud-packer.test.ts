import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateKeyPairCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';

const TEMPLATE = path.resolve('test/fixtures/local-cloud/ssh-build.pkr.hcl');

describe('packer build against the local cloud, SSH and all', () => {
  let stateDir: string;
  let cloud: LocalCloud;
  let amis: Record<string, string>;
  const clients: EC2Client[] = [];
  const ec2 = (region: string) => {
    const client = new EC2Client({ region, endpoint: cloud.endpoint, credentials: cloud.credentials });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'bake-e2e-local-'));
    cloud = await startLocalCloud({ stateDir });
    const manifest = path.join(stateDir, 'manifest.json');
    const build = await execa(
      'packer',
      [
        'build',
        '-color=false',
        '-var',
        `endpoint=${cloud.endpoint}`,
        '-var',
        `ssh_port=${cloud.sshPort}`,
        '-var',
        `manifest=${manifest}`,
        TEMPLATE,
      ],
      { env: { ...cloud.env, HOME: stateDir, CHECKPOINT_DISABLE: '1' }, extendEnv: false, reject: false, all: true },
    );
    expect(build.exitCode, build.all).toBe(0);
    const { builds } = JSON.parse(readFileSync(manifest, 'utf8')) as { builds: Array<{ artifact_id: string }> };
    amis = Object.fromEntries(builds[0].artifact_id.split(',').map((pair) => pair.split(':')));
  });

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await cloud?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('lists the AMI in both regions in the manifest', async () => {
    expect(Object.keys(amis).sort()).toEqual(['eu-west-1', 'us-east-1']);
    for (const [region, imageId] of Object.entries(amis)) {
      const [image] = (await ec2(region).send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
      expect(image.State).toBe('available');
      expect(image.Tags).toContainEqual({ Key: 'bake:recipe', Value: 'hello' });
    }
  });

  it('bakes what the provisioner wrote into the image: an instance of the copy has /root/x', async () => {
    const west = ec2('eu-west-1');
    const { KeyMaterial } = await west.send(new CreateKeyPairCommand({ KeyName: 'e2e-check' }));
    const keyFile = path.join(stateDir, 'e2e-check.pem');
    writeFileSync(keyFile, KeyMaterial!);
    chmodSync(keyFile, 0o600);
    const run = await west.send(
      new RunInstancesCommand({ ImageId: amis['eu-west-1'], KeyName: 'e2e-check', MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    try {
      await waitUntilInstanceRunning(
        { client: west, maxWaitTime: 300, minDelay: 1, maxDelay: 2 },
        { InstanceIds: [instanceId] },
      );
      const [instance] = (await west.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]
        .Instances!;
      const ssh = await execa('ssh', [
        '-i',
        keyFile,
        '-p',
        String(cloud.sshPort),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=20',
        `root@${instance.PublicIpAddress}`,
        'cat /root/x',
      ]);
      expect(ssh.stdout.trim()).toBe('hello');
    } finally {
      await west.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      await waitUntilInstanceTerminated(
        { client: west, maxWaitTime: 120, minDelay: 1, maxDelay: 2 },
        { InstanceIds: [instanceId] },
      );
    }
  });
});
