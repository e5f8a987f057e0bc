import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateKeyPairCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  DescribeRegionsCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from './no-instances.js';

const stateDir = mkdtempSync(path.join(tmpdir(), 'bake-local-cloud-dry-run-'));
let cloud: LocalCloud;
let ec2: EC2Client;
const region = 'us-east-1';

beforeAll(async () => {
  cloud = await startLocalCloud({ stateDir, host: noInstances, latency: null, deny: [] });
  ec2 = new EC2Client({ region, endpoint: cloud.endpoint, credentials: cloud.credentials, maxAttempts: 1 });
});

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const client = <C>(make: new (config: object) => C) =>
  new make({ region, endpoint: cloud.endpoint, credentials: cloud.credentials, maxAttempts: 1 });

async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

const launch = (overrides: Record<string, unknown> = {}) =>
  new RunInstancesCommand({
    ImageId: baseImageId(region),
    InstanceType: 't3.micro',
    MinCount: 1,
    MaxCount: 1,
    DryRun: true,
    ...overrides,
  });

describe("the local cloud's DryRun", () => {
  it('answers DryRunOperation (412) for an allowed RunInstances and launches nothing', async () => {
    await ec2.send(new DescribeRegionsCommand({})); // the region's seed (base image, default VPC) is not the probe's doing
    const before = readFileSync(path.join(stateDir, 'state.json'), 'utf8');
    expect(await failure(ec2.send(launch()))).toMatchObject({ name: 'DryRunOperation', status: 412 });
    expect(await failure(ec2.send(new CreateKeyPairCommand({ KeyName: 'probe', DryRun: true })))).toMatchObject({
      name: 'DryRunOperation',
    });
    expect(readFileSync(path.join(stateDir, 'state.json'), 'utf8')).toBe(before);
  });

  it("checks the request's resources as the action would: a missing image, subnet, an unoffered type", async () => {
    expect((await failure(ec2.send(launch({ ImageId: 'ami-0123456789abcdef0' })))).name).toBe('InvalidAMIID.NotFound');
    expect((await failure(ec2.send(launch({ SubnetId: 'subnet-0000000000000dead' })))).name).toBe(
      'InvalidSubnetID.NotFound',
    );
    expect((await failure(ec2.send(launch({ InstanceType: 'p4d.24xlarge' })))).name).toBe('Unsupported');
  });
});

describe("the local cloud's deny list", () => {
  it('answers UnauthorizedOperation (403) with an encoded message for a denied EC2 action, dry run or not', async () => {
    cloud.deny.push('ec2:RunInstances');
    try {
      const denied = await failure(ec2.send(launch()));
      expect(denied).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
      expect(denied.message).toMatch(
        /not authorized to perform: ec2:RunInstances.*Encoded authorization failure message: \S+/,
      );
      expect(await failure(ec2.send(launch({ DryRun: false })))).toMatchObject({ name: 'UnauthorizedOperation' });
      expect(await failure(ec2.send(new CreateKeyPairCommand({ KeyName: 'probe', DryRun: true })))).toMatchObject({
        name: 'DryRunOperation',
      });
    } finally {
      cloud.deny.length = 0;
    }
  });

  it('denies SSM and KMS actions with AccessDeniedException, and IAM simulation reports the denied ones', async () => {
    cloud.deny.push('ssm:Put*', 'kms:DescribeKey');
    const ssm = client(SSMClient);
    const kms = client(KMSClient);
    const iam = client(IAMClient);
    try {
      expect(
        (await failure(ssm.send(new PutParameterCommand({ Name: '/images/web', Value: 'x', Type: 'String' })))).name,
      ).toBe('AccessDeniedException');
      expect((await failure(kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ebs' })))).name).toBe(
        'AccessDeniedException',
      );
      const { EvaluationResults = [] } = await iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: 'arn:aws:iam::000000000000:user/bake-local',
          ActionNames: ['ssm:PutParameter', 'ec2:CreateImage'],
        }),
      );
      expect(EvaluationResults.map((r) => [r.EvalActionName, r.EvalDecision])).toEqual([
        ['ssm:PutParameter', 'implicitDeny'],
        ['ec2:CreateImage', 'allowed'],
      ]);
      cloud.deny.push('iam:SimulatePrincipalPolicy');
      expect(
        (
          await failure(
            iam.send(
              new SimulatePrincipalPolicyCommand({ PolicySourceArn: 'arn:aws:iam::0:user/x', ActionNames: ['a:b'] }),
            ),
          )
        ).name,
      ).toBe('AccessDenied');
    } finally {
      cloud.deny.length = 0;
      ssm.destroy();
      kms.destroy();
      iam.destroy();
    }
  });
});

describe('STS, KMS and instance types in the local cloud', () => {
  it('says who the caller is', async () => {
    const sts = client(STSClient);
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    expect(identity).toMatchObject({ Account: '000000000000', Arn: 'arn:aws:iam::000000000000:user/bake-local' });
  });

  it('keeps KMS keys: made, found by alias or ARN, disabled; the AWS managed EBS key is always there; others are not', async () => {
    const kms = client(KMSClient);
    try {
      const made = await kms.send(new CreateKeyCommand({ Description: 'images' }));
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/images', TargetKeyId: made.KeyMetadata!.KeyId }));
      const byAlias = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/images' }));
      expect(byAlias.KeyMetadata).toMatchObject({ Arn: made.KeyMetadata!.Arn, KeyState: 'Enabled', Enabled: true });
      await kms.send(new DisableKeyCommand({ KeyId: made.KeyMetadata!.Arn }));
      expect((await kms.send(new DescribeKeyCommand({ KeyId: made.KeyMetadata!.KeyId }))).KeyMetadata?.KeyState).toBe(
        'Disabled',
      );
      expect((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ebs' }))).KeyMetadata?.KeyManager).toBe('AWS');
      expect((await failure(kms.send(new DescribeKeyCommand({ KeyId: 'alias/missing' })))).name).toBe(
        'NotFoundException',
      );
    } finally {
      kms.destroy();
    }
  });

  it('offers the common instance types with their architecture, and not others', async () => {
    const offered = await ec2.send(
      new DescribeInstanceTypeOfferingsCommand({
        LocationType: 'availability-zone',
        Filters: [{ Name: 'instance-type', Values: ['t3.micro', 'p4d.24xlarge'] }],
      }),
    );
    expect(offered.InstanceTypeOfferings?.map((o) => `${o.InstanceType}@${o.Location}`)).toEqual([
      't3.micro@us-east-1a',
      't3.micro@us-east-1b',
      't3.micro@us-east-1c',
    ]);
    const types = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t4g.small', 'm7i.large'] }));
    expect(types.InstanceTypes?.map((t) => t.ProcessorInfo?.SupportedArchitectures)).toEqual([['arm64'], ['x86_64']]);
  });
});
