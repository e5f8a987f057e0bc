import { Ec2ApiError } from '../api-error.js';
import type { ActionContext } from '../action.js';
import { matchesFilters, paginate } from '../filters.js';
import { removeTags, setTags, tagsOf, type CloudState } from '../state.js';
import { checkTag, type Handlers } from './shared.js';

const RESOURCE_TYPES: Record<string, string> = {
  ami: 'image',
  snap: 'snapshot',
  i: 'instance',
  sg: 'security-group',
  key: 'key-pair',
  vol: 'volume',
  vpc: 'vpc',
  subnet: 'subnet',
};

function resourceType(id: string): string | undefined {
  const prefix = id.slice(0, id.lastIndexOf('-'));
  return Object.hasOwn(RESOURCE_TYPES, prefix) ? RESOURCE_TYPES[prefix] : undefined;
}

function exists(state: CloudState, region: string, id: string): boolean {
  switch (resourceType(id)) {
    case 'image':
      return state.images.some((r) => r.imageId === id && r.region === region);
    case 'snapshot':
      return state.snapshots.some((r) => r.snapshotId === id && r.region === region);
    case 'instance':
      return state.instances.some((r) => r.instanceId === id && r.region === region);
    case 'security-group':
      return state.securityGroups.some((r) => r.groupId === id && r.region === region);
    case 'key-pair':
      return state.keyPairs.some((r) => r.keyPairId === id && r.region === region);
    case 'volume':
      return state.volumes.some((r) => r.volumeId === id && r.region === region);
    case 'vpc':
    case 'subnet':
      return true;
    default:
      return false;
  }
}

const NOT_FOUND: Record<string, string> = {
  image: 'InvalidAMIID.NotFound',
  snapshot: 'InvalidSnapshot.NotFound',
  instance: 'InvalidInstanceID.NotFound',
  'security-group': 'InvalidGroup.NotFound',
  'key-pair': 'InvalidKeyPair.NotFound',
  volume: 'InvalidVolume.NotFound',
};

/** The request's ResourceId.N, each checked to exist in the region (also what a DryRun CreateTags checks). */
export function resources(context: ActionContext): string[] {
  const ids = context.params.list('ResourceId');
  if (ids.length === 0)
    throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter resourceIdSet');
  for (const id of ids) {
    const type = resourceType(id);
    if (!type) throw new Ec2ApiError('InvalidID', `The ID '${id}' is not valid`);
    if (!exists(context.state, context.region, id))
      throw new Ec2ApiError(NOT_FOUND[type] ?? 'InvalidID', `The ID '${id}' does not exist`);
  }
  return ids;
}

function createTags(context: ActionContext) {
  const ids = resources(context);
  const tags = context.params.structs('Tag').map((t): [string, string] => [t.require('Key'), t.get('Value') ?? '']);
  for (const [key, value] of tags) checkTag(key, value);
  for (const id of ids) {
    const keys = new Set([...tagsOf(context.state, id).map(([k]) => k), ...tags.map(([k]) => k)]);
    if (keys.size > 50)
      throw new Ec2ApiError('TagLimitExceeded', `The maximum number of Tags for a resource has been reached (${id})`);
  }
  for (const id of ids) setTags(context.state, id, tags);
  return { return: true };
}

function deleteTags(context: ActionContext) {
  const ids = resources(context);
  const tags = context.params
    .structs('Tag')
    .map((t): [string, string | undefined] => [t.require('Key'), t.get('Value')]);
  for (const id of ids) {
    if (tags.length === 0) delete context.state.tags[id];
    else removeTags(context.state, id, tags);
  }
  return { return: true };
}

function describeTags(context: ActionContext) {
  const { state, region, params } = context;
  const filters = params.filters();
  const rows: Array<{ resourceId: string; resourceType: string; key: string; value: string }> = [];
  for (const id of Object.keys(state.tags)) {
    const type = resourceType(id);
    if (!type || !exists(state, region, id) || type === 'vpc' || type === 'subnet') continue;
    for (const [key, value] of tagsOf(state, id)) {
      const row = { resourceId: id, resourceType: type, key, value };
      const fields = (name: string) => {
        switch (name) {
          case 'resource-id':
            return [id];
          case 'resource-type':
            return [type];
          case 'key':
            return [key];
          case 'value':
            return [value];
          default:
            return undefined;
        }
      };
      if (matchesFilters(filters, fields, [])) rows.push(row);
    }
  }
  const { page, nextToken } = paginate(rows, params.int('MaxResults'), params.get('NextToken'));
  return { tagSet: page, nextToken };
}

export const tagActions: Handlers = {
  CreateTags: createTags,
  DeleteTags: deleteTags,
  DescribeTags: describeTags,
};
