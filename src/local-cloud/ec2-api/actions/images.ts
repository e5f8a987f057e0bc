import { BASE_IMAGE, BASE_IMAGES, baseImageArchitecture } from '../../instance-host.js';
import { isArchitecture } from '../../architecture.js';
import { Ec2ApiError } from '../api-error.js';
import { answerOnceDone, type ActionContext } from '../action.js';
import { matchesFilters, paginate } from '../filters.js';
import { enqueue } from '../host-queue.js';
import { newId } from '../ids.js';
import { checkRegion, machineImageDefaults, seedRegion } from '../seed.js';
import {
  DEFAULT_EBS_KEY,
  SELF_ACCOUNT,
  setTags,
  tagsOf,
  type BlockDevice,
  type CloudState,
  type ImageState,
  type LaunchPermission,
} from '../state.js';
import type { XmlValue } from '../xml.js';
import { checkTag, now, tagSetXml, type Handlers } from './shared.js';

const IMAGE_ID = /^ami-[0-9a-f]{8,17}$/;

function isPublic(image: ImageState): boolean {
  return image.launchPermissions.some((p) => p.kind === 'group' && p.value === 'all');
}

export function findImage(context: ActionContext, imageId: string, region = context.region): ImageState {
  if (!IMAGE_ID.test(imageId))
    throw new Ec2ApiError('InvalidAMIID.Malformed', `Invalid id: "${imageId}" (expecting "ami-...")`);
  const image = context.state.images.find((i) => i.imageId === imageId && i.region === region);
  if (!image) throw new Ec2ApiError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
  return image;
}

function imageFields(image: ImageState): (name: string) => string[] | undefined {
  return (name) => {
    switch (name) {
      case 'name':
        return [image.name];
      case 'image-id':
        return [image.imageId];
      case 'state':
        return [image.state];
      case 'owner-id':
        return [image.ownerId];
      case 'owner-alias':
        return image.ownerAlias ? [image.ownerAlias] : [];
      case 'is-public':
        return [String(isPublic(image))];
      case 'virtualization-type':
        return [image.virtualizationType];
      case 'root-device-type':
        return [image.rootDeviceType];
      case 'root-device-name':
        return [image.rootDeviceName];
      case 'architecture':
        return [image.architecture];
      case 'image-type':
        return ['machine'];
      case 'description':
        return image.description ? [image.description] : [];
      case 'ena-support':
        return [String(image.enaSupport)];
      case 'hypervisor':
        return ['xen'];
      case 'creation-date':
        return [image.creationDate];
      case 'block-device-mapping.snapshot-id':
        return image.blockDevices.flatMap((d) => (d.snapshotId ? [d.snapshotId] : []));
      case 'block-device-mapping.device-name':
        return image.blockDevices.map((d) => d.deviceName);
      case 'block-device-mapping.volume-size':
        return image.blockDevices.map((d) => String(d.volumeSize));
      case 'block-device-mapping.volume-type':
        return image.blockDevices.map((d) => d.volumeType);
      case 'block-device-mapping.encrypted':
        return image.blockDevices.map((d) => String(d.encrypted));
      case 'platform':
        return [];
      default:
        return undefined;
    }
  };
}

function ownerMatches(image: ImageState, owners: string[]): boolean {
  return owners.some((owner) => {
    if (owner === 'self') return image.ownerId === SELF_ACCOUNT;
    if (/^\d{12}$/.test(owner)) return image.ownerId === owner;
    return image.ownerAlias === owner;
  });
}

function blockDeviceXml(device: BlockDevice): XmlValue {
  return {
    deviceName: device.deviceName,
    ebs: {
      snapshotId: device.snapshotId,
      volumeSize: device.volumeSize,
      deleteOnTermination: device.deleteOnTermination,
      volumeType: device.volumeType,
      encrypted: device.encrypted,
      kmsKeyId: device.kmsKeyId,
    },
  };
}

export function imageXml(state: CloudState, image: ImageState): XmlValue {
  return {
    imageId: image.imageId,
    imageLocation: `${image.ownerId}/${image.name}`,
    imageState: image.state,
    imageOwnerId: image.ownerId,
    creationDate: image.creationDate,
    isPublic: isPublic(image),
    architecture: image.architecture,
    imageType: 'machine',
    sourceInstanceId: image.sourceInstanceId,
    imageOwnerAlias: image.ownerAlias,
    name: image.name,
    description: image.description,
    rootDeviceType: image.rootDeviceType,
    rootDeviceName: image.rootDeviceName,
    blockDeviceMapping: image.blockDevices.map(blockDeviceXml),
    virtualizationType: image.virtualizationType,
    tagSet: tagSetXml(state, image.imageId),
    hypervisor: 'xen',
    enaSupport: image.enaSupport,
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    stateReason: image.stateReason ? { code: 'Client.Error', message: image.stateReason } : undefined,
    deprecationTime: image.deprecationTime,
    imdsSupport: image.imdsSupport,
    bootMode: 'uefi-preferred',
  };
}

function describeImages(context: ActionContext) {
  const { params, state, region } = context;
  const ids = params.list('ImageId');
  const owners = params.list('Owner');
  const filters = params.filters();
  for (const id of ids) findImage(context, id);
  const images = state.images.filter(
    (image) =>
      image.region === region &&
      (ids.length === 0 || ids.includes(image.imageId)) &&
      (owners.length === 0 || ownerMatches(image, owners)) &&
      (image.ownerId === SELF_ACCOUNT || isPublic(image) || ids.includes(image.imageId) || sharedWithSelf(image)) &&
      matchesFilters(filters, imageFields(image), tagsOf(state, image.imageId)),
  );
  const { page, nextToken } = paginate(images, params.int('MaxResults'), params.get('NextToken'));
  return { imagesSet: page.map((image) => imageXml(state, image)), nextToken };
}

function sharedWithSelf(image: ImageState): boolean {
  return image.launchPermissions.some((p) => p.kind === 'userId' && p.value === SELF_ACCOUNT);
}

function blockDevicesFromRequest(context: ActionContext, fallback: BlockDevice[]): BlockDevice[] {
  const requested = context.params.structs('BlockDeviceMapping');
  const devices = fallback.map((d) => ({ ...d }));
  for (const mapping of requested) {
    const deviceName = mapping.require('DeviceName');
    const existing = devices.find((d) => d.deviceName === deviceName);
    const ebs = mapping.scope('Ebs');
    const device: BlockDevice = existing ?? {
      deviceName,
      volumeSize: 8,
      volumeType: 'gp3',
      deleteOnTermination: true,
      encrypted: false,
    };
    device.volumeSize = ebs.int('VolumeSize') ?? device.volumeSize;
    device.volumeType = ebs.get('VolumeType') ?? device.volumeType;
    device.deleteOnTermination = ebs.bool('DeleteOnTermination') ?? device.deleteOnTermination;
    device.encrypted = ebs.bool('Encrypted') ?? device.encrypted;
    if (ebs.get('SnapshotId')) device.snapshotId = ebs.get('SnapshotId');
    if (!existing && !mapping.has('NoDevice')) devices.push(device);
  }
  return devices;
}

/** A snapshot for each device of a new image that names none (CreateImage's of the instance's volume, RegisterImage's empty one). */
function snapshotNewDevices(
  context: ActionContext,
  devices: BlockDevice[],
  from: { volumeId: string; description: string; created: string; tags: Array<[string, string]> },
): void {
  const { state, region } = context;
  for (const device of devices) {
    if (device.snapshotId) continue;
    device.snapshotId = newId('snap');
    state.snapshots.push({
      snapshotId: device.snapshotId,
      region,
      volumeId: from.volumeId,
      volumeSize: device.volumeSize,
      ownerId: SELF_ACCOUNT,
      description: from.description,
      startTime: from.created,
      encrypted: device.encrypted,
      kmsKeyId: device.kmsKeyId,
    });
    if (from.tags.length) setTags(state, device.snapshotId, from.tags);
  }
}

function checkImageName(context: ActionContext, name: string, region: string): void {
  if (name.length < 3 || name.length > 128 || !/^[A-Za-z0-9()[\] ./\-'@_]+$/.test(name)) {
    throw new Ec2ApiError(
      'InvalidAMIName.Malformed',
      `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`,
    );
  }
  if (context.state.images.some((i) => i.region === region && i.ownerId === SELF_ACCOUNT && i.name === name)) {
    throw new Ec2ApiError('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI`);
  }
}

function tagsFromSpec(context: ActionContext, resourceType: string): Array<[string, string]> {
  const tags = context.params.tagSpecifications(resourceType);
  for (const [k, v] of tags) checkTag(k, v);
  return tags;
}

async function createImage(context: ActionContext) {
  const { params, state, region } = context;
  const instanceId = params.require('InstanceId');
  const name = params.require('Name');
  const instance = state.instances.find((i) => i.instanceId === instanceId && i.region === region);
  if (!instance || instance.state === 'terminated')
    throw new Ec2ApiError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
  if (instance.state !== 'running' && instance.state !== 'stopped') {
    throw new Ec2ApiError(
      'IncorrectInstanceState',
      `The instance '${instanceId}' is not in a state from which it can be imaged`,
    );
  }
  checkImageName(context, name, region);
  const source = state.images.find((i) => i.imageId === instance.imageId && i.region === region);
  const rootVolume = state.volumes.find((v) => v.volumeId === instance.rootVolumeId);
  const rootDevices: BlockDevice[] = [
    {
      deviceName: machineImageDefaults.rootDeviceName,
      volumeSize: rootVolume?.size ?? 8,
      volumeType: rootVolume?.volumeType ?? 'gp3',
      deleteOnTermination: true,
      // The snapshot of an encrypted volume is encrypted with the volume's key: how an image gets encrypted without a copy.
      encrypted: rootVolume?.encrypted ?? false,
      kmsKeyId: rootVolume?.kmsKeyId,
    },
  ];
  const devices = blockDevicesFromRequest(context, rootDevices);
  const imageTags = tagsFromSpec(context, 'image');
  const snapshotTags = tagsFromSpec(context, 'snapshot');
  const imageId = newId('ami');
  const created = now();
  snapshotNewDevices(context, devices, {
    volumeId: instance.rootVolumeId,
    description: `Created by CreateImage(${instanceId}) for ${imageId}`,
    created,
    tags: snapshotTags,
  });
  const image: ImageState = {
    imageId,
    region,
    name,
    description: params.get('Description'),
    ownerId: SELF_ACCOUNT,
    state: 'pending',
    creationDate: created,
    ...machineImageDefaults,
    architecture: source?.architecture ?? machineImageDefaults.architecture,
    blockDevices: devices,
    launchPermissions: [],
    sourceInstanceId: instanceId,
    hostImage: imageId,
  };
  state.images.push(image);
  if (imageTags.length) setTags(state, imageId, imageTags);
  // Capturing copies a filesystem; the image stays pending until it is done, as on AWS (with a
  // latency profile, at least as long as EC2's snapshot of a volume that size takes).
  const snapshotting = context.time.wait(
    ((context.time.profile?.createImageS ?? 0) * Math.max(8, rootVolume?.size ?? 8)) / 8,
  );
  // Only the capture holds the instance's queue: it may be terminated while the snapshot completes.
  const captured = new Promise<void>((resolve, reject) =>
    enqueue(instanceId, () => context.host.capture(instanceId, imageId).then(resolve, reject)),
  );
  const settled = Promise.all([captured, snapshotting]).then(
    ([, elapsed]) => void (elapsed && settle(context, image, undefined)),
    (error: Error) => settle(context, image, `capture failed: ${error.message}`),
  );
  await answerOnceDone(context, settled);
  return { imageId };
}

function settle(context: ActionContext, image: ImageState, failure: string | undefined): void {
  if (!context.state.images.includes(image)) return;
  image.state = failure ? 'failed' : 'available';
  image.stateReason = failure;
  if (failure) context.log(`image ${image.imageId}: ${failure}`);
  context.persist();
}

function copyImage(context: ActionContext) {
  const { params, state, region } = context;
  const sourceRegion = params.require('SourceRegion');
  checkRegion(sourceRegion);
  seedRegion(state, sourceRegion);
  const source = findImage(context, params.require('SourceImageId'), sourceRegion);
  if (source.state !== 'available') throw new Ec2ApiError('IncorrectState', `Image ${source.imageId} is not available`);
  const name = params.require('Name');
  checkImageName(context, name, region);
  const imageId = newId('ami');
  const created = now();
  const encrypted = params.bool('Encrypted');
  const kmsKeyId = params.get('KmsKeyId');
  // As EC2: a key only goes with Encrypted=true, and an encrypted source cannot be copied unencrypted.
  if (kmsKeyId && encrypted !== true)
    throw new Ec2ApiError(
      'InvalidParameterDependency',
      'The parameter KmsKeyId requires the parameter Encrypted to be set.',
    );
  const devices = source.blockDevices.map((device) => {
    const copy: BlockDevice = {
      ...device,
      encrypted: encrypted || device.encrypted,
      kmsKeyId: encrypted ? (kmsKeyId ?? device.kmsKeyId ?? DEFAULT_EBS_KEY) : device.kmsKeyId,
    };
    if (device.snapshotId) {
      copy.snapshotId = newId('snap');
      state.snapshots.push({
        snapshotId: copy.snapshotId,
        region,
        volumeId: 'vol-ffffffff',
        volumeSize: device.volumeSize,
        ownerId: SELF_ACCOUNT,
        description: `Copied for DestinationAmi ${imageId} from SourceAmi ${source.imageId} for SourceSnapshot ${device.snapshotId}`,
        startTime: created,
        encrypted: copy.encrypted,
        kmsKeyId: copy.kmsKeyId,
      });
    }
    return copy;
  });
  const image: ImageState = {
    ...source,
    imageId,
    region,
    name,
    description: params.get('Description') ?? source.description,
    ownerId: SELF_ACCOUNT,
    ownerAlias: undefined,
    state: 'pending',
    creationDate: created,
    blockDevices: devices,
    launchPermissions: [],
    deprecationTime: undefined,
    hostImage: baseImageArchitecture(source.hostImage) ? source.hostImage : imageId,
  };
  state.images.push(image);
  if (params.bool('CopyImageTags')) setTags(state, imageId, tagsOf(state, source.imageId));
  const imageTags = tagsFromSpec(context, 'image');
  if (imageTags.length) setTags(state, imageId, imageTags);
  const snapshotTags = tagsFromSpec(context, 'snapshot');
  for (const device of devices)
    if (device.snapshotId && snapshotTags.length) setTags(state, device.snapshotId, snapshotTags);
  const copied = baseImageArchitecture(image.hostImage)
    ? Promise.resolve()
    : context.host.alias(source.hostImage, imageId);
  const size = Math.max(8, ...source.blockDevices.map((d) => d.volumeSize));
  const copying = context.time.wait(((context.time.profile?.copyImageS ?? 0) * size) / 8);
  copied.then(
    async () => void ((await copying) && settle(context, image, undefined)),
    (error: Error) => settle(context, image, `copy failed: ${error.message}`),
  );
  return { imageId };
}

/** What EC2's RegisterImage takes for Architecture. */
const IMAGE_ARCHITECTURES = ['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac'];

/**
 * RegisterImage: an image of a given architecture, as a team registers its own images (tests
 * register images of either architecture this way). Its filesystem is the Debian base of that
 * architecture: the local cloud keeps no other.
 */
function registerImage(context: ActionContext) {
  const { params, state, region } = context;
  const name = params.require('Name');
  const architecture = params.get('Architecture') ?? machineImageDefaults.architecture;
  if (!IMAGE_ARCHITECTURES.includes(architecture))
    throw new Ec2ApiError('InvalidParameterValue', `Value (${architecture}) for parameter architecture is invalid.`);
  checkImageName(context, name, region);
  const imageId = newId('ami');
  const created = now();
  const devices = blockDevicesFromRequest(context, [
    {
      deviceName: machineImageDefaults.rootDeviceName,
      volumeSize: 8,
      volumeType: 'gp3',
      deleteOnTermination: true,
      encrypted: false,
    },
  ]);
  snapshotNewDevices(context, devices, {
    volumeId: 'vol-ffffffff',
    description: `Created for RegisterImage ${imageId}`,
    created,
    tags: [],
  });
  state.images.push({
    imageId,
    region,
    name,
    description: params.get('Description'),
    ownerId: SELF_ACCOUNT,
    state: 'available',
    creationDate: created,
    ...machineImageDefaults,
    architecture,
    blockDevices: devices,
    launchPermissions: [],
    hostImage: isArchitecture(architecture) ? BASE_IMAGES[architecture] : BASE_IMAGE,
  });
  const imageTags = tagsFromSpec(context, 'image');
  if (imageTags.length) setTags(state, imageId, imageTags);
  return { imageId };
}

function deregisterImage(context: ActionContext) {
  const image = findImage(context, context.params.require('ImageId'));
  if (image.ownerId !== SELF_ACCOUNT) throw new Ec2ApiError('AuthFailure', `Not authorized for image:${image.imageId}`);
  context.state.images = context.state.images.filter((i) => i !== image);
  delete context.state.tags[image.imageId];
  if (!baseImageArchitecture(image.hostImage)) {
    context.host
      .deleteImage(image.hostImage)
      .catch((error: Error) => context.log(`deleting image ${image.imageId}: ${error.message}`));
  }
  return { return: true };
}

function permissionXml(permission: LaunchPermission): XmlValue {
  return { [permission.kind]: permission.value };
}

function describeImageAttribute(context: ActionContext) {
  const image = findImage(context, context.params.require('ImageId'));
  const attribute = context.params.require('Attribute');
  const body: Record<string, XmlValue> = { imageId: image.imageId };
  switch (attribute) {
    case 'launchPermission':
      body.launchPermission = image.launchPermissions.map(permissionXml);
      break;
    case 'description':
      body.description = { value: image.description };
      break;
    case 'blockDeviceMapping':
      body.blockDeviceMapping = image.blockDevices.map(blockDeviceXml);
      break;
    case 'lastLaunchedTime':
      body.lastLaunchedTime = {};
      break;
    case 'imdsSupport':
      body.imdsSupport = image.imdsSupport ? { value: image.imdsSupport } : {};
      break;
    default:
      throw new Ec2ApiError('InvalidParameterValue', `Value (${attribute}) for parameter attribute is invalid`);
  }
  return body;
}

const PERMISSION_FIELDS: Array<[string, LaunchPermission['kind']]> = [
  ['UserId', 'userId'],
  ['Group', 'group'],
  ['OrganizationArn', 'organizationArn'],
  ['OrganizationalUnitArn', 'organizationalUnitArn'],
];

function permissionsFrom(list: ActionContext['params'][]): LaunchPermission[] {
  const out: LaunchPermission[] = [];
  for (const entry of list) {
    for (const [field, kind] of PERMISSION_FIELDS) {
      const value = entry.get(field);
      if (value === undefined) continue;
      if (kind === 'userId' && !/^\d{12}$/.test(value))
        throw new Ec2ApiError(
          'InvalidAMIAttributeItemValue',
          `Invalid attribute item value "${value}" for userId item type.`,
        );
      if (kind === 'group' && value !== 'all')
        throw new Ec2ApiError(
          'InvalidAMIAttributeItemValue',
          `Invalid attribute item value "${value}" for group item type.`,
        );
      out.push({ kind, value });
    }
  }
  return out;
}

function modifyImageAttribute(context: ActionContext) {
  const { params } = context;
  const image = findImage(context, params.require('ImageId'));
  if (image.ownerId !== SELF_ACCOUNT) throw new Ec2ApiError('AuthFailure', `Not authorized for image:${image.imageId}`);
  let add = permissionsFrom(params.structs('LaunchPermission.Add'));
  let remove = permissionsFrom(params.structs('LaunchPermission.Remove'));
  // The older flat form (aws-sdk-go's ModifyImageAttribute with UserId.N / UserGroup.N and OperationType).
  const flat = [
    ...params.list('UserId').map((value): LaunchPermission => ({ kind: 'userId', value })),
    ...params.list('UserGroup').map((value): LaunchPermission => ({ kind: 'group', value })),
    ...params.list('OrganizationArn').map((value): LaunchPermission => ({ kind: 'organizationArn', value })),
    ...params
      .list('OrganizationalUnitArn')
      .map((value): LaunchPermission => ({ kind: 'organizationalUnitArn', value })),
  ];
  if (flat.length) {
    const operation = params.get('OperationType');
    if (operation === 'remove') remove = remove.concat(flat);
    else if (operation === 'add') add = add.concat(flat);
    // Packer 1.6.6 sends UserId.N beside LaunchPermission.Add.N without an OperationType; EC2 then goes by the structured form.
    else if (add.length === 0 && remove.length === 0)
      throw new Ec2ApiError('InvalidParameterValue', 'OperationType must be add or remove');
  }
  const same = (a: LaunchPermission, b: LaunchPermission) => a.kind === b.kind && a.value === b.value;
  image.launchPermissions = image.launchPermissions.filter((p) => !remove.some((r) => same(p, r)));
  for (const permission of add)
    if (!image.launchPermissions.some((p) => same(p, permission))) image.launchPermissions.push(permission);
  const description = params.get('Description.Value') ?? params.get('Description');
  if (description !== undefined) image.description = description;
  const imds = params.get('ImdsSupport.Value');
  if (imds !== undefined) {
    if (imds !== 'v2.0')
      throw new Ec2ApiError(
        'InvalidParameterValue',
        `Value (${imds}) for parameter ImdsSupport is invalid: only v2.0 can be set`,
      );
    image.imdsSupport = imds;
  }
  return { return: true };
}

function enableImageDeprecation(context: ActionContext) {
  const image = findImage(context, context.params.require('ImageId'));
  const time = new Date(context.params.require('DeprecateAt'));
  if (Number.isNaN(time.getTime())) throw new Ec2ApiError('InvalidParameterValue', 'DeprecateAt is not a valid date');
  // Kept to the minute, as EC2 keeps it; a time in the past is refused, as EC2 refuses it.
  time.setUTCSeconds(0, 0);
  if (time.getTime() < Date.now() - 60_000)
    throw new Ec2ApiError('InvalidParameterValue', 'DeprecateAt cannot be in the past');
  const latest = new Date();
  latest.setUTCFullYear(latest.getUTCFullYear() + 10);
  if (time.getTime() > latest.getTime())
    throw new Ec2ApiError('InvalidParameterValue', 'DeprecateAt cannot be more than 10 years in the future');
  image.deprecationTime = time.toISOString();
  return { return: true };
}

function disableImageDeprecation(context: ActionContext) {
  const image = findImage(context, context.params.require('ImageId'));
  image.deprecationTime = undefined;
  return { return: true };
}

export const imageActions: Handlers = {
  DescribeImages: describeImages,
  CreateImage: createImage,
  CopyImage: copyImage,
  RegisterImage: registerImage,
  DeregisterImage: deregisterImage,
  DescribeImageAttribute: describeImageAttribute,
  ModifyImageAttribute: modifyImageAttribute,
  EnableImageDeprecation: enableImageDeprecation,
  DisableImageDeprecation: disableImageDeprecation,
};
