/**
 * What `bake doctor` asks AWS, none of which changes anything: who the caller is, which regions
 * are enabled, whether resources exist, and whether an action is allowed — by sending the EC2
 * call with `DryRun: true` (EC2 answers DryRunOperation or UnauthorizedOperation and acts not),
 * by reading, or by asking iam:SimulatePrincipalPolicy.
 */
import {
  CopyImageCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeAccountAttributesCommand,
  DescribeAvailabilityZonesCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  DescribeKeyPairsCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  DisableImageDeprecationCommand,
  EnableImageDeprecationCommand,
  ModifyImageAttributeCommand,
  RunInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { SimulatePrincipalPolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { GetParameterCommand, GetParametersCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { BaseImage } from '../recipes/model.js';
import { BAKERY_TAG } from '../tags/tag-contract.js';
import { resolveBaseImage, type ResolvedBase } from './base-image.js';
import { createEc2Client, createIamClient, createKmsClient, createSsmClient, createStsClient } from './clients.js';
import { cloudError } from './image-catalog.js';
import type { AwsSettings } from './settings.js';

/** Whether the caller may: the answer of a dry run, a read, or a simulation. */
export type Permission =
  | { outcome: 'allowed' }
  | { outcome: 'denied'; message: string }
  /** The call failed otherwise (a resource missing, a parameter refused): nothing said about the permission. */
  | { outcome: 'unknown'; message: string };

export interface SubnetFacts {
  vpcId: string;
  zone: string;
  publicIp: boolean;
}

export interface KmsKeyFacts {
  arn: string;
  state: string;
}

/** The EC2 actions doctor sends with DryRun, each built from the request doctor makes up for it. */
const DRY_RUN_COMMANDS = {
  RunInstances: RunInstancesCommand,
  CreateKeyPair: CreateKeyPairCommand,
  DeleteKeyPair: DeleteKeyPairCommand,
  CreateSecurityGroup: CreateSecurityGroupCommand,
  CreateTags: CreateTagsCommand,
  CopyImage: CopyImageCommand,
  ModifyImageAttribute: ModifyImageAttributeCommand,
  EnableImageDeprecation: EnableImageDeprecationCommand,
  DisableImageDeprecation: DisableImageDeprecationCommand,
  DeregisterImage: DeregisterImageCommand,
  DeleteSnapshot: DeleteSnapshotCommand,
  DescribeImages: DescribeImagesCommand,
  DescribeImageAttribute: DescribeImageAttributeCommand,
  DescribeSnapshots: DescribeSnapshotsCommand,
  DescribeSnapshotAttribute: DescribeSnapshotAttributeCommand,
  DescribeInstances: DescribeInstancesCommand,
  DescribeInstanceStatus: DescribeInstanceStatusCommand,
  DescribeInstanceAttribute: DescribeInstanceAttributeCommand,
  DescribeVolumes: DescribeVolumesCommand,
  DescribeKeyPairs: DescribeKeyPairsCommand,
  DescribeSecurityGroups: DescribeSecurityGroupsCommand,
  DescribeSubnets: DescribeSubnetsCommand,
  DescribeVpcs: DescribeVpcsCommand,
  DescribeRegions: DescribeRegionsCommand,
  DescribeAvailabilityZones: DescribeAvailabilityZonesCommand,
  DescribeAccountAttributes: DescribeAccountAttributesCommand,
  DescribeTags: DescribeTagsCommand,
  DescribeInstanceTypeOfferings: DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypes: DescribeInstanceTypesCommand,
} as const;

export type DryRunAction = keyof typeof DRY_RUN_COMMANDS;

export function isDryRunAction(action: string): action is DryRunAction {
  return Object.hasOwn(DRY_RUN_COMMANDS, action);
}

export interface DoctorCloud {
  callerIdentity(): Promise<{ account: string; arn: string }>;
  /** Every region the account knows, with its opt-in status. */
  regions(): Promise<Map<string, string>>;
  resolveBase(base: BaseImage, region: string): Promise<ResolvedBase>;
  imageArchitecture(region: string, imageId: string): Promise<string | undefined>;
  /** The architectures an instance type runs; undefined when EC2 does not know the type. */
  instanceTypeArchitectures(region: string, instanceType: string): Promise<string[] | undefined>;
  /** Whether the type is offered in the region, or in the zone when given. */
  instanceTypeOffered(region: string, instanceType: string, zone?: string): Promise<boolean>;
  subnet(region: string, subnetId: string): Promise<SubnetFacts | undefined>;
  defaultVpc(region: string): Promise<string | undefined>;
  kmsKey(region: string, keyId: string): Promise<KmsKeyFacts | undefined>;
  /** An image of this bakery in the region, to send the image actions' dry runs against. */
  ownImage(region: string, bakery: string): Promise<{ imageId: string; snapshotId?: string } | undefined>;
  dryRun(region: string, action: DryRunAction, input: Record<string, unknown>): Promise<Permission>;
  /** ssm:GetParameter / ssm:GetParameters on a parameter: a missing parameter is allowed (pin makes it). */
  readParameter(region: string, name: string, action: 'GetParameter' | 'GetParameters'): Promise<Permission>;
  /**
   * iam:SimulatePrincipalPolicy for the caller, in a region, on resources (default `*`);
   * undefined when the caller may not simulate.
   */
  simulate(
    principalArn: string,
    region: string,
    actions: string[],
    resources?: string[],
  ): Promise<Map<string, Permission> | undefined>;
  close(): void;
}

const codeOf = (error: unknown) =>
  String((error as { Code?: string }).Code ?? (error as { name?: string }).name ?? 'Error');
const messageOf = (error: unknown) => `${codeOf(error)}: ${(error as Error).message ?? String(error)}`;
const DENIED = new Set(['UnauthorizedOperation', 'AccessDeniedException', 'AccessDenied', 'AuthorizationError']);

/** The IAM principal behind an STS caller ARN: an assumed role's session is simulated as the role. */
export function principalOf(callerArn: string): string {
  const assumed = /^arn:(aws[\w-]*):sts::(\d+):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return assumed ? `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}` : callerArn;
}

export function createDoctorCloud(settings: AwsSettings, homeRegion: string): DoctorCloud {
  const made: Array<{ destroy(): void }> = [];
  const perRegion = <C extends { destroy(): void }>(make: (region: string) => C) => {
    const clients = new Map<string, C>();
    return (region: string): C => {
      let client = clients.get(region);
      if (!client) {
        client = make(region);
        clients.set(region, client);
        made.push(client);
      }
      return client;
    };
  };
  const ec2 = perRegion<EC2Client>((region) => createEc2Client(settings, region));
  const ssm = perRegion<SSMClient>((region) => createSsmClient(settings, region));
  const kms = perRegion<KMSClient>((region) => createKmsClient(settings, region));
  let iam: IAMClient | undefined;

  return {
    async callerIdentity() {
      const sts = createStsClient(settings, homeRegion);
      try {
        const identity = await sts.send(new GetCallerIdentityCommand({}));
        return { account: identity.Account ?? '', arn: identity.Arn ?? '' };
      } catch (error) {
        throw cloudError(error, 'asking STS who bake runs as');
      } finally {
        sts.destroy();
      }
    },

    async regions() {
      const { Regions = [] } = await ec2(homeRegion).send(new DescribeRegionsCommand({ AllRegions: true }));
      return new Map(Regions.map((r) => [r.RegionName ?? '', r.OptInStatus ?? 'opt-in-not-required']));
    },

    resolveBase: (base, region) => resolveBaseImage(settings, base, region),

    async imageArchitecture(region, imageId) {
      const { Images = [] } = await ec2(region).send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      return Images[0]?.Architecture;
    },

    async instanceTypeArchitectures(region, instanceType) {
      try {
        const { InstanceTypes = [] } = await ec2(region).send(
          new DescribeInstanceTypesCommand({ InstanceTypes: [instanceType as never] }),
        );
        return InstanceTypes[0]?.ProcessorInfo?.SupportedArchitectures;
      } catch (error) {
        if (codeOf(error) === 'InvalidInstanceType') return undefined;
        throw error;
      }
    },

    async instanceTypeOffered(region, instanceType, zone) {
      const { InstanceTypeOfferings = [] } = await ec2(region).send(
        new DescribeInstanceTypeOfferingsCommand({
          LocationType: zone ? 'availability-zone' : 'region',
          Filters: [
            { Name: 'instance-type', Values: [instanceType] },
            { Name: 'location', Values: [zone ?? region] },
          ],
        }),
      );
      return InstanceTypeOfferings.length > 0;
    },

    async subnet(region, subnetId) {
      try {
        const { Subnets = [] } = await ec2(region).send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
        const subnet = Subnets[0];
        if (!subnet) return undefined;
        return {
          vpcId: subnet.VpcId ?? '',
          zone: subnet.AvailabilityZone ?? '',
          publicIp: Boolean(subnet.MapPublicIpOnLaunch),
        };
      } catch (error) {
        if (codeOf(error) === 'InvalidSubnetID.NotFound') return undefined;
        throw error;
      }
    },

    async defaultVpc(region) {
      const { Vpcs = [] } = await ec2(region).send(
        new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
      );
      return Vpcs[0]?.VpcId;
    },

    async kmsKey(region, keyId) {
      try {
        const { KeyMetadata } = await kms(region).send(new DescribeKeyCommand({ KeyId: keyId }));
        return KeyMetadata ? { arn: KeyMetadata.Arn ?? keyId, state: KeyMetadata.KeyState ?? 'Unknown' } : undefined;
      } catch (error) {
        if (codeOf(error) === 'NotFoundException') return undefined;
        throw error;
      }
    },

    async ownImage(region, bakery) {
      const { Images = [] } = await ec2(region).send(
        new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: `tag:${BAKERY_TAG}`, Values: [bakery] }] }),
      );
      const image = Images.find((i) => i.ImageId);
      if (!image?.ImageId) return undefined;
      const snapshotId = image.BlockDeviceMappings?.find((m) => m.Ebs?.SnapshotId)?.Ebs?.SnapshotId;
      return { imageId: image.ImageId, snapshotId };
    },

    async dryRun(region, action, input) {
      const Command = DRY_RUN_COMMANDS[action] as unknown as new (input: object) => Parameters<EC2Client['send']>[0];
      try {
        await ec2(region).send(new Command({ ...input, DryRun: true }));
        // EC2 never answers a dry run with success; an endpoint that does ignored DryRun and may have acted.
        return {
          outcome: 'unknown',
          message: `${action} answered a dry run with success: the endpoint ignores DryRun`,
        };
      } catch (error) {
        const code = codeOf(error);
        if (code === 'DryRunOperation') return { outcome: 'allowed' };
        if (DENIED.has(code)) return { outcome: 'denied', message: messageOf(error) };
        return { outcome: 'unknown', message: messageOf(error) };
      }
    },

    async readParameter(region, name, action) {
      try {
        if (action === 'GetParameter') await ssm(region).send(new GetParameterCommand({ Name: name }));
        else await ssm(region).send(new GetParametersCommand({ Names: [name] }));
        return { outcome: 'allowed' };
      } catch (error) {
        const code = codeOf(error);
        if (code === 'ParameterNotFound') return { outcome: 'allowed' };
        if (DENIED.has(code)) return { outcome: 'denied', message: messageOf(error) };
        return { outcome: 'unknown', message: messageOf(error) };
      }
    },

    async simulate(principalArn, region, actions, resources) {
      iam ??= createIamClient(settings);
      try {
        const { EvaluationResults = [] } = await iam.send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: principalArn,
            ActionNames: actions,
            ResourceArns: resources,
            ContextEntries: [
              { ContextKeyName: 'aws:RequestedRegion', ContextKeyType: 'string', ContextKeyValues: [region] },
            ],
          }),
        );
        return new Map(
          EvaluationResults.map((result): [string, Permission] => [
            result.EvalActionName ?? '',
            result.EvalDecision === 'allowed'
              ? { outcome: 'allowed' }
              : { outcome: 'denied', message: `simulated: ${result.EvalDecision}` },
          ]),
        );
      } catch (error) {
        if (DENIED.has(codeOf(error))) return undefined;
        throw cloudError(error, 'simulating the policy');
      }
    },

    close() {
      for (const client of made) client.destroy();
      iam?.destroy();
    },
  };
}
