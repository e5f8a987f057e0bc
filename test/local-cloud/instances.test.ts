import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  GetConsoleOutputCommand,
  ImportKeyPairCommand,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGE, baseImageId } from '../../src/local-cloud/index.js';
import { startTestCloud, type TestCloud } from './memory-host.js';

const WAIT = { maxWaitTime: 30, minDelay: 1, maxDelay: 1 };

describe('instances in the local cloud', () => {
  let t: TestCloud;
  let ec2: EC2Client;
  beforeAll(async () => {
    t = await startTestCloud();
    ec2 = t.ec2();
  });
  afterAll(() => t.close());

  it('creates an RSA key pair as PKCS#1 PEM and gives the host its OpenSSH public key, named by the key pair', async () => {
    const created = await ec2.send(new CreateKeyPairCommand({ KeyName: 'packer_1' }));
    expect(created.KeyMaterial).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(created.KeyPairId).toMatch(/^key-[0-9a-f]{17}$/);
    const keyFile = path.join(t.stateDir, 'packer_1.pem');
    writeFileSync(keyFile, created.KeyMaterial!);
    chmodSync(keyFile, 0o600);
    // OpenSSH's own reading of the private key must give the line the host authorizes.
    const expectedPublic = execFileSync('ssh-keygen', ['-y', '-f', keyFile]).toString().trim();
    await expect(ec2.send(new CreateKeyPairCommand({ KeyName: 'packer_1' }))).rejects.toMatchObject({
      name: 'InvalidKeyPair.Duplicate',
    });

    const run = await ec2.send(
      new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), KeyName: 'packer_1', MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    expect(run.Instances![0].State).toEqual({ Code: 0, Name: 'pending' });
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    // As EC2's metadata hands it over: the key pair's name is the key's comment.
    expect(t.host.instances.get(instanceId)?.authorizedKey).toBe(`${expectedPublic} packer_1`);
    expect(t.host.calls).toContain(`launch ${instanceId} ${BASE_IMAGE}`);
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'packer_1' }));
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'packer_1' }));
    expect((await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs?.map((k) => k.KeyName)).not.toContain('packer_1');
  });

  it('creates an ed25519 key pair in OpenSSH format that ssh-keygen reads back to the authorized key', async () => {
    const created = await ec2.send(new CreateKeyPairCommand({ KeyName: 'modern', KeyType: 'ed25519' }));
    expect(created.KeyMaterial).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const keyFile = path.join(t.stateDir, 'modern.key');
    writeFileSync(keyFile, created.KeyMaterial!);
    chmodSync(keyFile, 0o600);
    const publicLine = execFileSync('ssh-keygen', ['-y', '-f', keyFile]).toString().trim();
    const { KeyPairs = [] } = await ec2.send(
      new DescribeKeyPairsCommand({ KeyNames: ['modern'], IncludePublicKey: true }),
    );
    expect(KeyPairs[0]).toMatchObject({ KeyType: 'ed25519', PublicKey: publicLine });
    await expect(ec2.send(new CreateKeyPairCommand({ KeyName: 'odd', KeyType: 'dsa' as 'rsa' }))).rejects.toMatchObject(
      { name: 'InvalidParameterValue' },
    );
  });

  it('imports an OpenSSH public key', async () => {
    const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHg0ptNjvLKLOr7C1vxU0cPV3UtW5IVL8UNuq9OZ6d3n ci@jenkins';
    const imported = await ec2.send(new ImportKeyPairCommand({ KeyName: 'ci', PublicKeyMaterial: Buffer.from(line) }));
    expect(imported.KeyFingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    const { KeyPairs = [] } = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['ci'], IncludePublicKey: true }));
    expect(KeyPairs[0]).toMatchObject({
      KeyName: 'ci',
      KeyType: 'ed25519',
      PublicKey: line.split(' ').slice(0, 2).join(' '),
    });
  });

  it('describes a running instance the way Packer reads it: addresses, root device, volume', async () => {
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImageId('us-east-1'),
        InstanceType: 't3.small',
        MinCount: 1,
        MaxCount: 1,
        BlockDeviceMappings: [
          { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 20, VolumeType: 'gp3', DeleteOnTermination: true } },
        ],
        MetadataOptions: { HttpTokens: 'required' },
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'Packer Builder' }] }],
      }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = Reservations[0].Instances![0];
    expect(instance).toMatchObject({
      InstanceId: instanceId,
      InstanceType: 't3.small',
      State: { Code: 16, Name: 'running' },
      RootDeviceName: '/dev/xvda',
      MetadataOptions: { HttpTokens: 'required' },
      Tags: [{ Key: 'Name', Value: 'Packer Builder' }],
    });
    expect(instance.PublicIpAddress).toMatch(/^127\.0\.0\.\d+$/);
    expect(instance.PrivateIpAddress).toBe(instance.PublicIpAddress);
    expect(instance.LaunchTime).toBeInstanceOf(Date);
    const volumeId = instance.BlockDeviceMappings![0].Ebs!.VolumeId!;
    const { Volumes = [] } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
    expect(Volumes[0]).toMatchObject({
      Size: 20,
      State: 'in-use',
      Attachments: [{ InstanceId: instanceId, Device: '/dev/xvda' }],
    });
    const status = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [instanceId] }));
    expect(status.InstanceStatuses![0].InstanceStatus!.Status).toBe('ok');
    const byTag = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag:Name', Values: ['Packer*'] },
          { Name: 'instance-state-name', Values: ['running'] },
        ],
      }),
    );
    expect(byTag.Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId)).toEqual([instanceId]);
    const console = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId }));
    expect(Buffer.from(console.Output!, 'base64').toString()).toContain(instanceId);
  });

  it('hands out a key of its own with every RSA key pair, though one is made ahead', async () => {
    const publicKeys: string[] = [];
    const materials = new Set<string>();
    for (const name of ['ahead_1', 'ahead_2', 'ahead_3']) {
      const created = await ec2.send(new CreateKeyPairCommand({ KeyName: name }));
      materials.add(created.KeyMaterial!);
      const keyFile = path.join(t.stateDir, `${name}.pem`);
      writeFileSync(keyFile, created.KeyMaterial!, { mode: 0o600 });
      publicKeys.push(execFileSync('ssh-keygen', ['-y', '-f', keyFile]).toString().trim());
      const described = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: [name] }));
      expect(described.KeyPairs![0].KeyFingerprint).toBe(created.KeyFingerprint);
      await ec2.send(new DeleteKeyPairCommand({ KeyName: name }));
    }
    expect(materials.size).toBe(3);
    expect(new Set(publicKeys).size).toBe(3);
  });

  it('stops, starts and terminates, and the SDK waiters see each state', async () => {
    const run = await ec2.send(
      new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    const stopped = await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    expect(stopped.StoppingInstances![0]).toMatchObject({
      PreviousState: { Name: 'running' },
      CurrentState: { Name: 'stopping' },
    });
    await waitUntilInstanceStopped({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    const [volumeId] = (
      await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
    ).Reservations![0].Instances![0].BlockDeviceMappings!.map((m) => m.Ebs!.VolumeId!);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntilInstanceTerminated({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    expect(t.host.calls.filter((c) => c.endsWith(instanceId)).map((c) => c.split(' ')[0])).toEqual([
      'stop',
      'start',
      'terminate',
    ]);
    await expect(ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).rejects.toMatchObject({
      name: 'InvalidVolume.NotFound',
    });
  });

  it('records an instance that stopped by itself as stopped, with why, and starts it again with its type as it is now', async () => {
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImageId('us-east-1'),
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
      }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    t.host.stopByGuest(instanceId, 'rebooted more than 5 times within 10 minutes, so bake stopped it: Kernel panic');
    const instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]
      .Instances![0];
    expect(instance.State!.Name).toBe('stopped');
    expect(instance.StateReason!.Message).toBe(
      'rebooted more than 5 times within 10 minutes, so bake stopped it: Kernel panic',
    );
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, InstanceType: { Value: 'm5.large' } }));
    await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    expect(t.host.instanceTypes.filter((line) => line.startsWith(instanceId))).toEqual([
      `${instanceId} t3.micro`,
      `${instanceId} m5.large`,
    ]);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  });

  it('reports a launch the host could not do as a terminated instance with a reason', async () => {
    t.host.failLaunch = true;
    try {
      const run = await ec2.send(
        new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), MinCount: 1, MaxCount: 1 }),
      );
      const instanceId = run.Instances![0].InstanceId!;
      await expect(waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] })).rejects.toThrow();
      const instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]
        .Instances![0];
      expect(instance.State!.Name).toBe('terminated');
      expect(instance.StateReason!.Message).toContain('no room');
    } finally {
      t.host.failLaunch = false;
    }
  });

  it('hands RunInstances’ UserData to the host as the bytes given, and reads it back as EC2 does', async () => {
    const userData = '#cloud-config\nruncmd:\n  - [sh, -c, "echo \'quoted\' $HOME"]\n';
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImageId('us-east-1'),
        MinCount: 1,
        MaxCount: 1,
        UserData: Buffer.from(userData).toString('base64'),
      }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    expect(t.host.instances.get(instanceId)!.userData!.toString()).toBe(userData);
    const attribute = await ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
    );
    expect(Buffer.from(attribute.UserData!.Value!, 'base64').toString()).toBe(userData);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  });

  it('refuses user data that is not base64 or larger than EC2’s 16 KB', async () => {
    const launch = (UserData: string) =>
      ec2.send(new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), MinCount: 1, MaxCount: 1, UserData }));
    await expect(launch('not base64!')).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: 'Invalid BASE64 encoding of user data.',
    });
    await expect(launch(Buffer.alloc(16 * 1024 + 1, 'x').toString('base64'))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: 'User data is limited to 16384 bytes',
    });
  });

  it('refuses what EC2 refuses: unknown image, key pair or instance, several instances at once', async () => {
    await expect(
      ec2.send(new RunInstancesCommand({ ImageId: 'ami-0000000000000000f', MinCount: 1, MaxCount: 1 })),
    ).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });
    await expect(
      ec2.send(
        new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), KeyName: 'nope', MinCount: 1, MaxCount: 1 }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidKeyPair.NotFound' });
    await expect(
      ec2.send(new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), MinCount: 2, MaxCount: 2 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
    ).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
  });

  it('has a default VPC and subnet per region and keeps security group rules', async () => {
    const { Vpcs = [] } = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
    );
    expect(Vpcs).toHaveLength(1);
    const { Subnets = [] } = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [Vpcs[0].VpcId!] }] }),
    );
    expect(Subnets[0]).toMatchObject({
      VpcId: Vpcs[0].VpcId,
      AvailabilityZone: 'us-east-1a',
      MapPublicIpOnLaunch: true,
    });
    const { GroupId } = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: 'packer_x',
        Description: 'Temporary group for Packer',
        VpcId: Vpcs[0].VpcId,
      }),
    );
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    const { SecurityGroups = [] } = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId!] }));
    expect(SecurityGroups[0].IpPermissions).toMatchObject([
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
    ]);
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImageId('us-east-1'),
        SecurityGroupIds: [GroupId!],
        MinCount: 1,
        MaxCount: 1,
      }),
    );
    await expect(ec2.send(new DeleteSecurityGroupCommand({ GroupId }))).rejects.toMatchObject({
      name: 'DependencyViolation',
    });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [run.Instances![0].InstanceId!] }));
    await waitUntilInstanceTerminated({ client: ec2, ...WAIT }, { InstanceIds: [run.Instances![0].InstanceId!] });
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId }));
  });
});
