/**
 * Everything the local EC2 remembers, as plain JSON. One document for all regions; each
 * resource carries its region. Tags live beside the resources, keyed by resource id, as
 * [key, value] pairs so a hostile key such as `__proto__` stays an ordinary string.
 */
export const SELF_ACCOUNT = '000000000000';
/** What EC2 encrypts with when asked to encrypt without a key: the account's AWS-managed EBS key. */
export const DEFAULT_EBS_KEY = 'alias/aws/ebs';

export interface BlockDevice {
  deviceName: string;
  snapshotId?: string;
  volumeSize: number;
  volumeType: string;
  deleteOnTermination: boolean;
  encrypted: boolean;
  /** The KMS key the snapshot is encrypted with (launch volume or CopyImage KmsKeyId); nothing is really encrypted. */
  kmsKeyId?: string;
}

export type LaunchPermission =
  | { kind: 'userId'; value: string }
  | { kind: 'group'; value: string }
  | { kind: 'organizationArn'; value: string }
  | { kind: 'organizationalUnitArn'; value: string };

export interface ImageState {
  imageId: string;
  region: string;
  name: string;
  description?: string;
  ownerId: string;
  ownerAlias?: string;
  state: 'pending' | 'available' | 'failed';
  stateReason?: string;
  creationDate: string;
  architecture: string;
  virtualizationType: string;
  rootDeviceType: string;
  rootDeviceName: string;
  enaSupport: boolean;
  blockDevices: BlockDevice[];
  launchPermissions: LaunchPermission[];
  deprecationTime?: string;
  /** `v2.0` once ModifyImageAttribute (or registration) asked for IMDSv2-only; EC2 never lets it go back. */
  imdsSupport?: string;
  sourceInstanceId?: string;
  /** The id the InstanceHost knows this image's filesystem by (BASE_IMAGE for seeded images). */
  hostImage: string;
}

export interface SnapshotState {
  snapshotId: string;
  region: string;
  volumeId: string;
  volumeSize: number;
  ownerId: string;
  description: string;
  startTime: string;
  encrypted: boolean;
  kmsKeyId?: string;
  /** createVolumePermission: account ids, or `all`. */
  createVolumePermissions?: string[];
}

export type InstanceStateName = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export interface InstanceState {
  instanceId: string;
  reservationId: string;
  region: string;
  availabilityZone: string;
  imageId: string;
  instanceType: string;
  keyName?: string;
  securityGroupIds: string[];
  subnetId: string;
  vpcId: string;
  state: InstanceStateName;
  stateReason?: string;
  launchTime: string;
  /** Loopback address from the InstanceHost while running; kept as the last known one when stopped. */
  ip?: string;
  rootVolumeId: string;
  httpTokens: string;
  /** OpenSSH public key line allowed to log in; not secret. */
  authorizedKey: string;
  /** RunInstances' UserData as given (base64). */
  userData?: string;
  /** Its image's architecture at launch; absent in state written before arm64 (x86_64). */
  architecture?: string;
}

export interface VolumeState {
  volumeId: string;
  region: string;
  availabilityZone: string;
  size: number;
  volumeType: string;
  snapshotId?: string;
  createTime: string;
  encrypted: boolean;
  /** The KMS key an encrypted volume is (nominally) encrypted with; CreateImage passes it on to the snapshots. */
  kmsKeyId?: string;
  attachment?: { instanceId: string; device: string; deleteOnTermination: boolean; attachTime: string };
}

export interface KeyPairState {
  keyPairId: string;
  keyName: string;
  region: string;
  fingerprint: string;
  /** OpenSSH public key line. The private key is handed out once and never stored. */
  publicKey: string;
  createTime: string;
}

export interface IpPermission {
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  cidrs: string[];
}

export interface SecurityGroupState {
  groupId: string;
  groupName: string;
  description: string;
  region: string;
  vpcId: string;
  ingress: IpPermission[];
}

/** An SSM parameter written with PutParameter (the public ones come from seed.ts). */
export interface ParameterState {
  name: string;
  region: string;
  type: string;
  /** `text` or `aws:ec2:image`. */
  dataType: string;
  value: string;
  version: number;
  /** ISO 8601 */
  lastModified: string;
}

export interface CloudState {
  version: 1;
  images: ImageState[];
  snapshots: SnapshotState[];
  instances: InstanceState[];
  volumes: VolumeState[];
  keyPairs: KeyPairState[];
  securityGroups: SecurityGroupState[];
  tags: Record<string, Array<[string, string]>>;
  /** Regions whose seeded resources (base image, default VPC) exist. */
  seededRegions: string[];
  /** SSM parameters; absent in state files written before the local cloud kept any. */
  parameters?: ParameterState[];
  /** Customer managed KMS keys (kms.ts); absent in state files written before the local cloud kept any. */
  kmsKeys?: KmsKeyState[];
}

/** A KMS key made with CreateKey: nothing is encrypted with it, it only exists (or not) and is enabled (or not). */
export interface KmsKeyState {
  keyId: string;
  region: string;
  description: string;
  enabled: boolean;
  /** `alias/name`s pointing at it. */
  aliases: string[];
  creationDate: string;
}

export function emptyState(): CloudState {
  return {
    version: 1,
    images: [],
    snapshots: [],
    instances: [],
    volumes: [],
    keyPairs: [],
    securityGroups: [],
    tags: {},
    seededRegions: [],
  };
}

export function tagsOf(state: CloudState, resourceId: string): Array<[string, string]> {
  return Object.hasOwn(state.tags, resourceId) ? state.tags[resourceId] : [];
}

export function tagValue(state: CloudState, resourceId: string, key: string): string | undefined {
  return tagsOf(state, resourceId).find(([k]) => k === key)?.[1];
}

export function setTags(state: CloudState, resourceId: string, tags: Array<[string, string]>): void {
  const current = new Map(tagsOf(state, resourceId));
  for (const [key, value] of tags) current.set(key, value);
  state.tags[resourceId] = [...current];
}

/** Removes tags; a pair with value undefined removes the key whatever its value. */
export function removeTags(state: CloudState, resourceId: string, tags: Array<[string, string | undefined]>): void {
  const current = tagsOf(state, resourceId).filter(
    ([k, v]) => !tags.some(([key, value]) => key === k && (value === undefined || value === v)),
  );
  if (current.length === 0) delete state.tags[resourceId];
  else state.tags[resourceId] = current;
}
