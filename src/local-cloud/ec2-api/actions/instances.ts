import { Ec2ApiError } from '../api-error.js';
import { answerOnceDone, type ActionContext } from '../action.js';
import { matchesFilters } from '../filters.js';
import { newId } from '../ids.js';
import { defaultSubnetId, defaultVpcId, defaultZone } from '../seed.js';
import {
  DEFAULT_EBS_KEY,
  SELF_ACCOUNT,
  setTags,
  tagsOf,
  type BlockDevice,
  type CloudState,
  type InstanceState,
  type InstanceStateName,
} from '../state.js';
import type { QueryParams } from '../query.js';
import type { XmlValue } from '../xml.js';
import { enqueue } from '../host-queue.js';
import { isArchitecture } from '../../architecture.js';
import { findImage } from './images.js';
import { architectureOf } from './instance-types.js';
import { checkTag, now, tagSetXml, type Handlers } from './shared.js';
import { LOCAL_MACHINE_TAG } from '../../../tags/tag-contract.js';

const STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

function stateXml(state: InstanceStateName): XmlValue {
  return { code: STATE_CODES[state], name: state };
}

export function findInstance(context: ActionContext, instanceId: string): InstanceState {
  if (!/^i-[0-9a-f]{8,17}$/.test(instanceId))
    throw new Ec2ApiError('InvalidInstanceID.Malformed', `Invalid id: "${instanceId}"`);
  const instance = context.state.instances.find((i) => i.instanceId === instanceId && i.region === context.region);
  if (!instance) throw new Ec2ApiError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
  return instance;
}

function instanceArchitecture(instance: InstanceState): string {
  return instance.architecture ?? 'x86_64';
}

function instanceXml(state: CloudState, instance: InstanceState): XmlValue {
  const volume = state.volumes.find((v) => v.volumeId === instance.rootVolumeId);
  const up = instance.state === 'running' || instance.state === 'pending' || instance.state === 'stopping';
  const ip = up ? instance.ip : undefined;
  const groups = instance.securityGroupIds.map((groupId) => ({
    groupId,
    groupName: state.securityGroups.find((g) => g.groupId === groupId)?.groupName,
  }));
  return {
    instanceId: instance.instanceId,
    imageId: instance.imageId,
    instanceState: stateXml(instance.state),
    privateDnsName: '',
    dnsName: '',
    reason: instance.stateReason ?? '',
    keyName: instance.keyName,
    amiLaunchIndex: 0,
    productCodes: [],
    instanceType: instance.instanceType,
    launchTime: instance.launchTime,
    placement: { availabilityZone: instance.availabilityZone, groupName: '', tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: instance.subnetId,
    vpcId: instance.vpcId,
    privateIpAddress: ip,
    ipAddress: ip,
    sourceDestCheck: true,
    groupSet: groups,
    stateReason: instance.stateReason ? { code: 'Server.InternalError', message: instance.stateReason } : undefined,
    architecture: instanceArchitecture(instance),
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: volume
      ? [
          {
            deviceName: '/dev/xvda',
            ebs: {
              volumeId: volume.volumeId,
              status: 'attached',
              attachTime: instance.launchTime,
              deleteOnTermination: volume.attachment?.deleteOnTermination ?? true,
            },
          },
        ]
      : [],
    virtualizationType: 'hvm',
    clientToken: '',
    tagSet: tagSetXml(state, instance.instanceId),
    hypervisor: 'xen',
    networkInterfaceSet: ip
      ? [
          {
            networkInterfaceId: `eni-${instance.instanceId.slice(2)}`,
            subnetId: instance.subnetId,
            vpcId: instance.vpcId,
            ownerId: SELF_ACCOUNT,
            status: 'in-use',
            privateIpAddress: ip,
            sourceDestCheck: true,
            groupSet: groups,
            attachment: {
              attachmentId: `eni-attach-${instance.instanceId.slice(2)}`,
              deviceIndex: 0,
              status: 'attached',
              attachTime: instance.launchTime,
              deleteOnTermination: true,
            },
            association: { publicIp: ip, publicDnsName: '', ipOwnerId: 'amazon' },
            privateIpAddressesSet: [
              {
                privateIpAddress: ip,
                primary: true,
                association: { publicIp: ip, publicDnsName: '', ipOwnerId: 'amazon' },
              },
            ],
          },
        ]
      : [],
    ebsOptimized: false,
    enaSupport: true,
    metadataOptions: {
      state: 'applied',
      httpTokens: instance.httpTokens,
      httpPutResponseHopLimit: 1,
      httpEndpoint: 'enabled',
    },
  };
}

async function runInstances(context: ActionContext) {
  const { params, state, region, host } = context;
  const min = params.int('MinCount') ?? 1;
  const max = params.int('MaxCount') ?? 1;
  if (min !== 1 || max !== 1)
    throw new Ec2ApiError(
      'InvalidParameterValue',
      'The local cloud launches one instance per RunInstances (MinCount = MaxCount = 1)',
    );
  const image = findImage(context, params.require('ImageId'));
  if (image.state !== 'available')
    throw new Ec2ApiError('InvalidAMIID.Unavailable', `The image id '[${image.imageId}]' is not available`);
  const instanceType = params.get('InstanceType') ?? 'm1.small';
  if (architectureOf(instanceType) !== image.architecture)
    throw new Ec2ApiError(
      'InvalidParameterValue',
      `The architecture '${architectureOf(instanceType)}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.`,
    );
  const architecture = isArchitecture(image.architecture) ? image.architecture : undefined;
  // Refused now, in the caller's error, rather than as an instance that terminates while booting.
  if (architecture)
    await host.requireArchitecture?.(architecture).catch((error: Error) => {
      throw new Ec2ApiError('Unsupported', error.message);
    });
  const keyName = params.get('KeyName');
  const keyPair = keyName ? state.keyPairs.find((k) => k.region === region && k.keyName === keyName) : undefined;
  if (keyName && !keyPair) throw new Ec2ApiError('InvalidKeyPair.NotFound', `The key pair '${keyName}' does not exist`);
  const subnetId = params.get('SubnetId') || params.get('NetworkInterface.1.SubnetId') || defaultSubnetId(region);
  if (subnetId !== defaultSubnetId(region))
    throw new Ec2ApiError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
  const groupIds = [...params.list('SecurityGroupId'), ...params.list('NetworkInterface.1.SecurityGroupId')];
  for (const name of params.list('SecurityGroup')) {
    const group = state.securityGroups.find((g) => g.region === region && g.groupName === name);
    if (!group) throw new Ec2ApiError('InvalidGroup.NotFound', `The security group '${name}' does not exist`);
    groupIds.push(group.groupId);
  }
  for (const id of groupIds) {
    if (!state.securityGroups.some((g) => g.region === region && g.groupId === id))
      throw new Ec2ApiError('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
  }
  if (groupIds.length === 0)
    groupIds.push(state.securityGroups.find((g) => g.region === region && g.groupName === 'default')!.groupId);
  const instanceTags = params.tagSpecifications('instance');
  const volumeTags = params.tagSpecifications('volume');
  for (const [k, v] of [...instanceTags, ...volumeTags]) checkTag(k, v);

  const root = image.blockDevices.find((d) => d.deviceName === image.rootDeviceName) ?? image.blockDevices[0];
  const requestedRoot = params.structs('BlockDeviceMapping').find((m) => m.get('DeviceName') === image.rootDeviceName);
  const size = requestedRoot?.int('Ebs.VolumeSize') ?? root?.volumeSize ?? 8;
  if (root && size < root.volumeSize) {
    throw new Ec2ApiError(
      'InvalidBlockDeviceMapping',
      `Volume of size ${size}GB is smaller than snapshot '${root.snapshotId}', expect size >= ${root.volumeSize}GB`,
    );
  }
  const userData = decodeUserData(params.get('UserData'));
  const encryption = launchVolumeEncryption(requestedRoot, root);
  const launched = now();
  const instanceId = newId('i');
  const volumeId = newId('vol');
  state.volumes.push({
    volumeId,
    region,
    availabilityZone: defaultZone(region),
    size,
    volumeType: requestedRoot?.get('Ebs.VolumeType') ?? root?.volumeType ?? 'gp3',
    snapshotId: root?.snapshotId,
    createTime: launched,
    ...encryption,
    attachment: {
      instanceId,
      device: '/dev/xvda',
      deleteOnTermination: requestedRoot?.bool('Ebs.DeleteOnTermination') ?? true,
      attachTime: launched,
    },
  });
  const instance: InstanceState = {
    instanceId,
    reservationId: newId('r'),
    region,
    availabilityZone: defaultZone(region),
    imageId: image.imageId,
    instanceType,
    architecture: image.architecture,
    keyName,
    securityGroupIds: groupIds,
    subnetId,
    vpcId: defaultVpcId(region),
    state: 'pending',
    launchTime: launched,
    rootVolumeId: volumeId,
    httpTokens: params.get('MetadataOptions.HttpTokens') ?? 'optional',
    // As EC2's metadata gives it: the key, then the key pair's name as its comment (Packer's
    // ssh_clear_authorized_keys finds the build key's lines by that name).
    authorizedKey: keyPair ? `${keyPair.publicKey} ${keyPair.keyName.replace(/[^\x20-\x7e]/g, '?')}` : '',
    userData: userData?.toString('base64'),
  };
  state.instances.push(instance);
  if (instanceTags.length) setTags(state, instanceId, instanceTags);
  if (volumeTags.length) setTags(state, volumeId, volumeTags);
  const hostImage = image.hostImage;
  // A VM with its own kernel when the instance is tagged for one (a recipe's local: {machine: vm}).
  const machine = instanceTags.some(([key, value]) => key === LOCAL_MACHINE_TAG && value === 'vm') ? 'vm' : 'container';
  const pending = context.time.wait(context.time.profile?.pendingS ?? 0);
  const booted = enqueue(instanceId, async () => {
    try {
      const [endpoint] = await Promise.all([
        host.launch({
          instanceId,
          imageId: hostImage,
          authorizedKey: instance.authorizedKey,
          userData,
          architecture,
          machine,
          instanceType,
        }),
        pending,
      ]);
      instance.ip = endpoint.ip;
      if (instance.state === 'pending') await becomeRunning(context, instance);
    } catch (error) {
      context.log(`launch of ${instanceId} failed: ${(error as Error).message}`);
      instance.state = 'terminated';
      instance.stateReason = `launch failed: ${(error as Error).message}`;
      detachVolume(state, instance);
    }
    context.persist();
  });
  // EC2's answer: the instance as it is now (pending), sent once it runs (or a while later).
  const answer = {
    reservationId: instance.reservationId,
    ownerId: SELF_ACCOUNT,
    groupSet: [],
    instancesSet: [instanceXml(state, instance)],
  };
  await answerOnceDone(context, booted);
  return answer;
}

/** EC2's limit on user data: 16 KB before base64. */
const USER_DATA_MAX = 16 * 1024;

/** RunInstances' UserData: base64 on the wire (the SDK and Packer encode it), the raw bytes after. */
function decodeUserData(encoded: string | undefined): Buffer | undefined {
  if (encoded === undefined || encoded === '') return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new Ec2ApiError('InvalidParameterValue', 'Invalid BASE64 encoding of user data.');
  }
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length > USER_DATA_MAX)
    throw new Ec2ApiError('InvalidParameterValue', `User data is limited to ${USER_DATA_MAX} bytes`);
  return bytes;
}

/**
 * As EC2: a volume from an encrypted snapshot stays encrypted (with the snapshot's key unless
 * the mapping names another); Encrypted=true without a key uses the account's default EBS key;
 * a KmsKeyId needs Encrypted=true.
 */
function launchVolumeEncryption(
  requested: QueryParams | undefined,
  snapshot: BlockDevice | undefined,
): { encrypted: boolean; kmsKeyId?: string } {
  const asked = requested?.bool('Ebs.Encrypted');
  const key = requested?.get('Ebs.KmsKeyId');
  if (key && asked !== true)
    throw new Ec2ApiError(
      'InvalidParameterDependency',
      'The parameter KmsKeyId requires the parameter Encrypted to be set.',
    );
  if (snapshot?.encrypted) return { encrypted: true, kmsKeyId: key ?? snapshot.kmsKeyId ?? DEFAULT_EBS_KEY };
  if (asked) return { encrypted: true, kmsKeyId: key ?? DEFAULT_EBS_KEY };
  return { encrypted: false };
}

function detachVolume(state: CloudState, instance: InstanceState): void {
  const volume = state.volumes.find((v) => v.volumeId === instance.rootVolumeId);
  if (!volume) return;
  if (volume.attachment?.deleteOnTermination ?? true) {
    state.volumes = state.volumes.filter((v) => v !== volume);
    delete state.tags[volume.volumeId];
  } else {
    volume.attachment = undefined;
  }
}

function instanceFields(instance: InstanceState): (name: string) => string[] | undefined {
  return (name) => {
    switch (name) {
      case 'instance-id':
        return [instance.instanceId];
      case 'instance-state-name':
        return [instance.state];
      case 'instance-state-code':
        return [String(STATE_CODES[instance.state])];
      case 'image-id':
        return [instance.imageId];
      case 'instance-type':
        return [instance.instanceType];
      case 'architecture':
        return [instanceArchitecture(instance)];
      case 'key-name':
        return instance.keyName ? [instance.keyName] : [];
      case 'vpc-id':
        return [instance.vpcId];
      case 'subnet-id':
        return [instance.subnetId];
      case 'availability-zone':
        return [instance.availabilityZone];
      case 'private-ip-address':
      case 'ip-address':
        return instance.ip ? [instance.ip] : [];
      case 'instance.group-id':
      case 'group-id':
        return instance.securityGroupIds;
      case 'reservation-id':
        return [instance.reservationId];
      default:
        return undefined;
    }
  };
}

function selectInstances(context: ActionContext): InstanceState[] {
  const ids = context.params.list('InstanceId');
  for (const id of ids) findInstance(context, id);
  const filters = context.params.filters();
  return context.state.instances.filter(
    (i) =>
      i.region === context.region &&
      (ids.length === 0 || ids.includes(i.instanceId)) &&
      matchesFilters(filters, instanceFields(i), tagsOf(context.state, i.instanceId)),
  );
}

function describeInstances(context: ActionContext) {
  const instances = selectInstances(context);
  return {
    reservationSet: instances.map((i) => ({
      reservationId: i.reservationId,
      ownerId: SELF_ACCOUNT,
      groupSet: [],
      instancesSet: [instanceXml(context.state, i)],
    })),
  };
}

function describeInstanceStatus(context: ActionContext) {
  const all = context.params.bool('IncludeAllInstances') ?? false;
  const instances = selectInstances(context).filter((i) => all || i.state === 'running');
  // With a latency profile, status checks pass sshReadyS after running (instances resumed at start pass at once).
  const reachable = (i: InstanceState) =>
    i.state === 'running' && (context.time.reachableAt.get(i.instanceId) ?? 0) <= Date.now();
  const ok = (i: InstanceState) => (reachable(i) ? 'ok' : i.state === 'running' ? 'initializing' : 'not-applicable');
  const check = (i: InstanceState) => ({
    status: ok(i),
    details: [{ name: 'reachability', status: reachable(i) ? 'passed' : 'initializing' }],
  });
  return {
    instanceStatusSet: instances.map((i) => ({
      instanceId: i.instanceId,
      availabilityZone: i.availabilityZone,
      instanceState: stateXml(i.state),
      systemStatus: check(i),
      instanceStatus: check(i),
    })),
  };
}

/**
 * Running from now; its status checks pass (sshd answers) the profile's sshReadyS later. Until
 * then the host refuses SSH to it where it can (holdSsh), so Packer and ssh wait as on EC2.
 */
async function becomeRunning(context: ActionContext, instance: InstanceState): Promise<void> {
  const reachableAt = context.time.after(context.time.profile?.sshReadyS ?? 0);
  if (reachableAt > Date.now() && context.host.holdSsh)
    await context.host
      .holdSsh(instance.instanceId, reachableAt)
      .catch((error: Error) => context.log(`holding SSH of ${instance.instanceId} back: ${error.message}`));
  // A stop or terminate may have come while the hold was put in place.
  if (instance.state !== 'pending') return;
  instance.state = 'running';
  context.time.reachableAt.set(instance.instanceId, reachableAt);
}

/** Changes the instance's state now; returns the host work it started (settled when done), if any. */
type Transition = (context: ActionContext, instance: InstanceState) => Promise<void> | undefined;

async function changeStates(context: ActionContext, transition: Transition) {
  const ids = context.params.list('InstanceId');
  if (ids.length === 0) throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter InstanceId');
  const instances = ids.map((id) => findInstance(context, id));
  const work: Array<Promise<void>> = [];
  const answer = {
    instancesSet: instances.map((instance) => {
      const previous = instance.state;
      const started = transition(context, instance);
      if (started) work.push(started);
      return {
        instanceId: instance.instanceId,
        currentState: stateXml(instance.state),
        previousState: stateXml(previous),
      };
    }),
  };
  await answerOnceDone(context, Promise.all(work));
  return answer;
}

const stop: Transition = (context, instance) => {
  if (instance.state === 'stopped' || instance.state === 'stopping') return undefined;
  if (instance.state !== 'running')
    throw new Ec2ApiError(
      'IncorrectInstanceState',
      `This instance '${instance.instanceId}' is not in a state from which it can be stopped.`,
    );
  instance.state = 'stopping';
  const stopping = context.time.wait(context.time.profile?.stoppingS ?? 0);
  return enqueue(instance.instanceId, async () => {
    await context.host
      .stop(instance.instanceId)
      .catch((error: Error) => context.log(`stop of ${instance.instanceId}: ${error.message}`));
    await stopping;
    if (instance.state === 'stopping') instance.state = 'stopped';
    context.persist();
  });
};

const start: Transition = (context, instance) => {
  if (instance.state === 'running' || instance.state === 'pending') return undefined;
  if (instance.state !== 'stopped')
    throw new Ec2ApiError(
      'IncorrectInstanceState',
      `The instance '${instance.instanceId}' is not in a state from which it can be started.`,
    );
  instance.state = 'pending';
  const pending = context.time.wait(context.time.profile?.pendingS ?? 0);
  return enqueue(instance.instanceId, async () => {
    try {
      const [endpoint] = await Promise.all([
        context.host.start(instance.instanceId, instance.authorizedKey, instance.instanceType),
        pending,
      ]);
      instance.ip = endpoint.ip;
      if (instance.state === 'pending') await becomeRunning(context, instance);
    } catch (error) {
      context.log(`start of ${instance.instanceId} failed: ${(error as Error).message}`);
      if (instance.state === 'pending') {
        instance.state = 'stopped';
        instance.stateReason = `start failed: ${(error as Error).message}`;
      }
    }
    context.persist();
  });
};

const terminate: Transition = (context, instance) => {
  if (instance.state === 'terminated' || instance.state === 'shutting-down') return undefined;
  instance.state = 'shutting-down';
  const shuttingDown = context.time.wait(context.time.profile?.shuttingDownS ?? 0);
  return enqueue(instance.instanceId, async () => {
    await context.host
      .terminate(instance.instanceId)
      .catch((error: Error) => context.log(`terminate of ${instance.instanceId}: ${error.message}`));
    await shuttingDown;
    context.time.reachableAt.delete(instance.instanceId);
    instance.state = 'terminated';
    detachVolume(context.state, instance);
    context.persist();
  });
};

async function getConsoleOutput(context: ActionContext) {
  const instance = findInstance(context, context.params.require('InstanceId'));
  const console = context.host.consoleOutput ? await context.host.consoleOutput(instance.instanceId) : '';
  const text =
    console ||
    `local cloud: ${instance.instanceId} from ${instance.imageId} is ${instance.state}${instance.ip ? ` at ${instance.ip}` : ''}\n`;
  return { instanceId: instance.instanceId, timestamp: now(), output: Buffer.from(text).toString('base64') };
}

/** DescribeInstanceAttribute for userData (what a launch test reads back), instanceType and groupSet. */
function describeInstanceAttribute(context: ActionContext) {
  const instance = findInstance(context, context.params.require('InstanceId'));
  const attribute = context.params.require('Attribute');
  switch (attribute) {
    case 'userData':
      return { instanceId: instance.instanceId, userData: instance.userData ? { value: instance.userData } : {} };
    case 'instanceType':
      return { instanceId: instance.instanceId, instanceType: { value: instance.instanceType } };
    case 'groupSet':
      return { instanceId: instance.instanceId, groupSet: instance.securityGroupIds.map((groupId) => ({ groupId })) };
    default:
      throw new Ec2ApiError(
        'InvalidParameterValue',
        `Value (${attribute}) for parameter attribute is invalid. The local cloud answers userData, instanceType and groupSet`,
      );
  }
}

function modifyInstanceAttribute(context: ActionContext) {
  const instance = findInstance(context, context.params.require('InstanceId'));
  const groups = context.params.list('GroupId');
  if (groups.length) instance.securityGroupIds = groups;
  const type = context.params.get('InstanceType.Value');
  if (type) instance.instanceType = type;
  return { return: true };
}

function describeVolumes(context: ActionContext) {
  const { state, region, params } = context;
  const ids = params.list('VolumeId');
  for (const id of ids) {
    if (!state.volumes.some((v) => v.volumeId === id && v.region === region))
      throw new Ec2ApiError('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
  }
  const filters = params.filters();
  const volumes = state.volumes.filter(
    (v) =>
      v.region === region &&
      (ids.length === 0 || ids.includes(v.volumeId)) &&
      matchesFilters(
        filters,
        (name) => {
          switch (name) {
            case 'volume-id':
              return [v.volumeId];
            case 'status':
              return [v.attachment ? 'in-use' : 'available'];
            case 'attachment.instance-id':
              return v.attachment ? [v.attachment.instanceId] : [];
            case 'snapshot-id':
              return v.snapshotId ? [v.snapshotId] : [];
            case 'size':
              return [String(v.size)];
            default:
              return undefined;
          }
        },
        tagsOf(state, v.volumeId),
      ),
  );
  return {
    volumeSet: volumes.map((v) => ({
      volumeId: v.volumeId,
      size: v.size,
      snapshotId: v.snapshotId ?? '',
      availabilityZone: v.availabilityZone,
      status: v.attachment ? 'in-use' : 'available',
      createTime: v.createTime,
      attachmentSet: v.attachment
        ? [
            {
              volumeId: v.volumeId,
              instanceId: v.attachment.instanceId,
              device: v.attachment.device,
              status: 'attached',
              attachTime: v.attachment.attachTime,
              deleteOnTermination: v.attachment.deleteOnTermination,
            },
          ]
        : [],
      volumeType: v.volumeType,
      encrypted: v.encrypted,
      kmsKeyId: v.kmsKeyId,
      tagSet: tagSetXml(state, v.volumeId),
    })),
  };
}

function deleteVolume(context: ActionContext) {
  const id = context.params.require('VolumeId');
  const volume = context.state.volumes.find((v) => v.volumeId === id && v.region === context.region);
  if (!volume) throw new Ec2ApiError('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
  if (volume.attachment)
    throw new Ec2ApiError('VolumeInUse', `Volume ${id} is currently attached to ${volume.attachment.instanceId}`);
  context.state.volumes = context.state.volumes.filter((v) => v !== volume);
  delete context.state.tags[id];
  return { return: true };
}

export const instanceActions: Handlers = {
  RunInstances: runInstances,
  DescribeInstances: describeInstances,
  DescribeInstanceStatus: describeInstanceStatus,
  StopInstances: (context) => changeStates(context, stop),
  StartInstances: (context) => changeStates(context, start),
  TerminateInstances: (context) => changeStates(context, terminate),
  GetConsoleOutput: getConsoleOutput,
  DescribeInstanceAttribute: describeInstanceAttribute,
  ModifyInstanceAttribute: modifyInstanceAttribute,
  DescribeVolumes: describeVolumes,
  DeleteVolume: deleteVolume,
};
