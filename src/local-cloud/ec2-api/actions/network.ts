import { Ec2ApiError } from '../api-error.js';
import type { ActionContext } from '../action.js';
import { matchesFilters } from '../filters.js';
import { newId } from '../ids.js';
import { defaultSubnetId, defaultVpcId, defaultZone, REGIONS } from '../seed.js';
import { SELF_ACCOUNT, setTags, tagsOf, type IpPermission, type SecurityGroupState } from '../state.js';
import type { XmlValue } from '../xml.js';
import { checkTag, tagSetXml, type Handlers } from './shared.js';

function findGroup(context: ActionContext, groupId: string | undefined, groupName?: string): SecurityGroupState {
  const group = context.state.securityGroups.find(
    (g) => g.region === context.region && (groupId ? g.groupId === groupId : g.groupName === groupName),
  );
  if (!group)
    throw new Ec2ApiError('InvalidGroup.NotFound', `The security group '${groupId ?? groupName}' does not exist`);
  return group;
}

function createSecurityGroup(context: ActionContext) {
  const { params, state, region } = context;
  const groupName = params.require('GroupName');
  const description = params.require('GroupDescription');
  const vpcId = params.get('VpcId') || defaultVpcId(region);
  if (vpcId !== defaultVpcId(region))
    throw new Ec2ApiError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
  if (state.securityGroups.some((g) => g.region === region && g.vpcId === vpcId && g.groupName === groupName)) {
    throw new Ec2ApiError(
      'InvalidGroup.Duplicate',
      `The security group '${groupName}' already exists for VPC '${vpcId}'`,
    );
  }
  const tags = params.tagSpecifications('security-group');
  for (const [k, v] of tags) checkTag(k, v);
  const group: SecurityGroupState = { groupId: newId('sg'), groupName, description, region, vpcId, ingress: [] };
  state.securityGroups.push(group);
  if (tags.length) setTags(state, group.groupId, tags);
  return { return: true, groupId: group.groupId };
}

function permissionsFrom(context: ActionContext): IpPermission[] {
  const { params } = context;
  const permissions = params.structs('IpPermissions').map((p) => ({
    ipProtocol: p.require('IpProtocol'),
    fromPort: p.int('FromPort'),
    toPort: p.int('ToPort'),
    cidrs: p.structs('IpRanges').map((r) => r.require('CidrIp')),
  }));
  // The flat form: IpProtocol/FromPort/ToPort/CidrIp at the top level.
  if (params.get('IpProtocol')) {
    permissions.push({
      ipProtocol: params.require('IpProtocol'),
      fromPort: params.int('FromPort'),
      toPort: params.int('ToPort'),
      cidrs: params.get('CidrIp') ? [params.require('CidrIp')] : [],
    });
  }
  return permissions;
}

function authorizeSecurityGroupIngress(context: ActionContext) {
  const group = findGroup(context, context.params.get('GroupId'), context.params.get('GroupName'));
  const permissions = permissionsFrom(context);
  for (const permission of permissions) {
    const duplicate = group.ingress.some(
      (p) =>
        p.ipProtocol === permission.ipProtocol &&
        p.fromPort === permission.fromPort &&
        p.toPort === permission.toPort &&
        p.cidrs.some((c) => permission.cidrs.includes(c)),
    );
    if (duplicate) throw new Ec2ApiError('InvalidPermission.Duplicate', 'the specified rule already exists');
  }
  group.ingress.push(...permissions);
  return { return: true };
}

function deleteSecurityGroup(context: ActionContext) {
  const group = findGroup(context, context.params.get('GroupId'), context.params.get('GroupName'));
  const user = context.state.instances.find(
    (i) => i.state !== 'terminated' && i.securityGroupIds.includes(group.groupId),
  );
  if (user) throw new Ec2ApiError('DependencyViolation', `resource ${group.groupId} has a dependent object`);
  if (group.groupName === 'default')
    throw new Ec2ApiError('CannotDelete', 'the default security group cannot be deleted');
  context.state.securityGroups = context.state.securityGroups.filter((g) => g !== group);
  delete context.state.tags[group.groupId];
  return { return: true };
}

function describeSecurityGroups(context: ActionContext) {
  const { params, state, region } = context;
  const ids = params.list('GroupId');
  const names = params.list('GroupName');
  for (const id of ids) findGroup(context, id);
  const filters = params.filters();
  const groups = state.securityGroups.filter(
    (g) =>
      g.region === region &&
      (ids.length === 0 || ids.includes(g.groupId)) &&
      (names.length === 0 || names.includes(g.groupName)) &&
      matchesFilters(
        filters,
        (name) =>
          name === 'group-id'
            ? [g.groupId]
            : name === 'group-name'
              ? [g.groupName]
              : name === 'vpc-id'
                ? [g.vpcId]
                : name === 'description'
                  ? [g.description]
                  : undefined,
        tagsOf(state, g.groupId),
      ),
  );
  return {
    securityGroupInfo: groups.map((g) => ({
      ownerId: SELF_ACCOUNT,
      groupName: g.groupName,
      groupId: g.groupId,
      groupDescription: g.description,
      vpcId: g.vpcId,
      ipPermissions: g.ingress.map((p) => ({
        ipProtocol: p.ipProtocol,
        fromPort: p.fromPort,
        toPort: p.toPort,
        groups: [],
        ipRanges: p.cidrs.map((cidrIp) => ({ cidrIp })),
        ipv6Ranges: [],
        prefixListIds: [],
      })),
      ipPermissionsEgress: [
        { ipProtocol: '-1', groups: [], ipRanges: [{ cidrIp: '0.0.0.0/0' }], ipv6Ranges: [], prefixListIds: [] },
      ],
      tagSet: tagSetXml(state, g.groupId),
    })),
  };
}

function describeVpcs(context: ActionContext) {
  const vpcId = defaultVpcId(context.region);
  const ids = context.params.list('VpcId');
  if (ids.some((id) => id !== vpcId))
    throw new Ec2ApiError('InvalidVpcID.NotFound', `The vpc ID '${ids.find((id) => id !== vpcId)}' does not exist`);
  const fields = (name: string) =>
    name === 'vpc-id'
      ? [vpcId]
      : name === 'isDefault' || name === 'is-default'
        ? ['true']
        : name === 'state'
          ? ['available']
          : name === 'cidr' || name === 'cidr-block'
            ? ['172.31.0.0/16']
            : undefined;
  const vpcs = matchesFilters(context.params.filters(), fields, []) ? [vpcId] : [];
  return {
    vpcSet: vpcs.map((id) => ({
      vpcId: id,
      ownerId: SELF_ACCOUNT,
      state: 'available',
      cidrBlock: '172.31.0.0/16',
      dhcpOptionsId: 'dopt-00000000',
      instanceTenancy: 'default',
      isDefault: true,
    })),
  };
}

export function subnetXml(region: string): XmlValue {
  return {
    subnetId: defaultSubnetId(region),
    state: 'available',
    vpcId: defaultVpcId(region),
    cidrBlock: '172.31.0.0/20',
    availableIpAddressCount: 4091,
    availabilityZone: defaultZone(region),
    availabilityZoneId: `${region}-az1`,
    defaultForAz: true,
    mapPublicIpOnLaunch: true,
    ownerId: SELF_ACCOUNT,
  };
}

function describeSubnets(context: ActionContext) {
  const { region, params } = context;
  const subnetId = defaultSubnetId(region);
  const ids = params.list('SubnetId');
  if (ids.some((id) => id !== subnetId))
    throw new Ec2ApiError(
      'InvalidSubnetID.NotFound',
      `The subnet ID '${ids.find((id) => id !== subnetId)}' does not exist`,
    );
  const fields = (name: string) => {
    switch (name) {
      case 'subnet-id':
        return [subnetId];
      case 'vpc-id':
        return [defaultVpcId(region)];
      case 'availability-zone':
      case 'availabilityZone':
        return [defaultZone(region)];
      case 'default-for-az':
      case 'defaultForAz':
        return ['true'];
      case 'state':
        return ['available'];
      default:
        return undefined;
    }
  };
  return { subnetSet: matchesFilters(params.filters(), fields, []) ? [subnetXml(region)] : [] };
}

function describeRegions(context: ActionContext) {
  const names = context.params.list('RegionName');
  const regions = REGIONS.filter((r) => names.length === 0 || names.includes(r));
  const fields = (r: string) => (name: string) =>
    name === 'region-name'
      ? [r]
      : name === 'endpoint'
        ? [`ec2.${r}.amazonaws.com`]
        : name === 'opt-in-status'
          ? ['opt-in-not-required']
          : undefined;
  return {
    regionInfo: regions
      .filter((r) => matchesFilters(context.params.filters(), fields(r), []))
      .map((regionName) => ({
        regionName,
        regionEndpoint: `ec2.${regionName}.amazonaws.com`,
        optInStatus: 'opt-in-not-required',
      })),
  };
}

function describeAvailabilityZones(context: ActionContext) {
  const { region } = context;
  return {
    availabilityZoneInfo: ['a', 'b', 'c'].map((suffix, i) => ({
      zoneName: `${region}${suffix}`,
      zoneState: 'available',
      regionName: region,
      zoneId: `${region}-az${i + 1}`,
      zoneType: 'availability-zone',
      optInStatus: 'opt-in-not-required',
      messageSet: [],
    })),
  };
}

function describeAccountAttributes(context: ActionContext) {
  const all: Record<string, string[]> = {
    'supported-platforms': ['VPC'],
    'default-vpc': [defaultVpcId(context.region)],
    'max-instances': ['20'],
    'vpc-max-security-groups-per-interface': ['5'],
    'max-elastic-ips': ['5'],
    'vpc-max-elastic-ips': ['5'],
  };
  const names = context.params.list('AttributeName');
  return {
    accountAttributeSet: Object.entries(all)
      .filter(([name]) => names.length === 0 || names.includes(name))
      .map(([attributeName, values]) => ({
        attributeName,
        attributeValueSet: values.map((attributeValue) => ({ attributeValue })),
      })),
  };
}

export const networkActions: Handlers = {
  CreateSecurityGroup: createSecurityGroup,
  AuthorizeSecurityGroupIngress: authorizeSecurityGroupIngress,
  DeleteSecurityGroup: deleteSecurityGroup,
  DescribeSecurityGroups: describeSecurityGroups,
  DescribeVpcs: describeVpcs,
  DescribeSubnets: describeSubnets,
  DescribeRegions: describeRegions,
  DescribeAvailabilityZones: describeAvailabilityZones,
  DescribeAccountAttributes: describeAccountAttributes,
};
