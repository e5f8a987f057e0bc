import { ARCHITECTURES, DEBIAN_ARCH, type Architecture } from '../architecture.js';
import { BASE_IMAGES } from '../instance-host.js';
import { Ec2ApiError } from './api-error.js';
import { stableId } from './ids.js';
import type { CloudState, ImageState } from './state.js';

/** Regions DescribeRegions lists. Any region-shaped name is served; these are the advertised ones. */
export const REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ca-central-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-north-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-south-1',
  'sa-east-1',
];

/** The Debian project's AWS account: the example bakery's `filter:` base names it as owner. */
export const DEBIAN_ACCOUNT = '136693071363';
/** Named as Debian names its AMIs: `debian-12-<debian arch>-<date>-<build>`. */
export const BASE_IMAGE_NAMES: Record<Architecture, string> = {
  x86_64: `debian-12-${DEBIAN_ARCH.x86_64}-20261101-1`,
  arm64: `debian-12-${DEBIAN_ARCH.arm64}-20261101-1`,
};
export const BASE_IMAGE_NAME = BASE_IMAGE_NAMES.x86_64;
/** Debian's public SSM parameters naming the latest image of each architecture. */
export const DEBIAN_SSM_PARAMETERS: Record<Architecture, string> = {
  x86_64: `/aws/service/debian/release/12/latest/${DEBIAN_ARCH.x86_64}`,
  arm64: `/aws/service/debian/release/12/latest/${DEBIAN_ARCH.arm64}`,
};
export const DEBIAN_SSM_PARAMETER = DEBIAN_SSM_PARAMETERS.x86_64;

/**
 * What an image in the local cloud is, the public Debian base and every image made from it (or
 * put into the state by the bench): amd64 unless made from the arm64 base, EBS-backed HVM, root on /dev/xvda, ENA, as Debian's
 * own AMIs are.
 */
export const machineImageDefaults = {
  architecture: 'x86_64',
  virtualizationType: 'hvm',
  rootDeviceType: 'ebs',
  rootDeviceName: '/dev/xvda',
  enaSupport: true,
} as const satisfies Partial<ImageState>;

const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

export function checkRegion(region: string): void {
  if (!REGION_NAME.test(region)) throw new Ec2ApiError('InvalidRegion', `The region '${region}' is not valid`);
}

export function baseImageId(region: string, architecture: Architecture = 'x86_64'): string {
  return stableId('ami', `${region}/${BASE_IMAGE_NAMES[architecture]}`);
}

export function defaultVpcId(region: string): string {
  return stableId('vpc', `${region}/default`);
}

export function defaultSubnetId(region: string): string {
  return stableId('subnet', `${region}/default-a`);
}

export function defaultZone(region: string): string {
  return `${region}a`;
}

/** SSM public parameters the local cloud answers, per region. */
export function ssmParameter(region: string, name: string): string | undefined {
  const architecture = ARCHITECTURES.find((arch) => DEBIAN_SSM_PARAMETERS[arch] === name);
  return architecture ? baseImageId(region, architecture) : undefined;
}

/**
 * Adds the region's public Debian base images and default security group the first time a
 * region is used; a state seeded before arm64 existed gets the arm64 base added.
 */
export function seedRegion(state: CloudState, region: string): boolean {
  let changed = false;
  if (!state.seededRegions.includes(region)) {
    state.seededRegions.push(region);
    state.securityGroups.push({
      groupId: stableId('sg', `${region}/default`),
      groupName: 'default',
      description: 'default VPC security group',
      region,
      vpcId: defaultVpcId(region),
      ingress: [],
    });
    changed = true;
  }
  for (const architecture of ARCHITECTURES) {
    if (state.images.some((image) => image.imageId === baseImageId(region, architecture))) continue;
    seedBaseImage(state, region, architecture);
    changed = true;
  }
  return changed;
}

function seedBaseImage(state: CloudState, region: string, architecture: Architecture): void {
  const name = BASE_IMAGE_NAMES[architecture];
  const snapshotId = stableId('snap', `${region}/${name}`);
  const created = '2026-11-01T00:00:00.000Z';
  state.images.push({
    imageId: baseImageId(region, architecture),
    region,
    name,
    description: 'Debian 12 (20261101-1)',
    ownerId: DEBIAN_ACCOUNT,
    state: 'available',
    creationDate: created,
    ...machineImageDefaults,
    architecture,
    blockDevices: [
      {
        deviceName: machineImageDefaults.rootDeviceName,
        snapshotId,
        volumeSize: 8,
        volumeType: 'gp3',
        deleteOnTermination: true,
        encrypted: false,
      },
    ],
    launchPermissions: [{ kind: 'group', value: 'all' }],
    hostImage: BASE_IMAGES[architecture],
  });
  state.snapshots.push({
    snapshotId,
    region,
    volumeId: 'vol-ffffffff',
    volumeSize: 8,
    ownerId: DEBIAN_ACCOUNT,
    description: '',
    startTime: created,
    encrypted: false,
  });
}
