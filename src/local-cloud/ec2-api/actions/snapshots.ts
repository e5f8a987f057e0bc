import { Ec2ApiError } from '../api-error.js';
import type { ActionContext } from '../action.js';
import { matchesFilters, paginate } from '../filters.js';
import { SELF_ACCOUNT, tagsOf, type SnapshotState } from '../state.js';
import { tagSetXml, type Handlers } from './shared.js';

export function findSnapshot(context: ActionContext, snapshotId: string): SnapshotState {
  if (!/^snap-[0-9a-f]{8,17}$/.test(snapshotId))
    throw new Ec2ApiError('InvalidSnapshotID.Malformed', `Invalid id: "${snapshotId}" (expecting "snap-...")`);
  const snapshot = context.state.snapshots.find((s) => s.snapshotId === snapshotId && s.region === context.region);
  if (!snapshot) throw new Ec2ApiError('InvalidSnapshot.NotFound', `The snapshot '${snapshotId}' does not exist.`);
  return snapshot;
}

function describeSnapshots(context: ActionContext) {
  const { params, state, region } = context;
  const ids = params.list('SnapshotId');
  const owners = params.list('Owner');
  for (const id of ids) findSnapshot(context, id);
  const filters = params.filters();
  const snapshots = state.snapshots.filter(
    (s) =>
      s.region === region &&
      (ids.length === 0 || ids.includes(s.snapshotId)) &&
      (ids.length > 0 || s.ownerId === SELF_ACCOUNT || owners.length > 0) &&
      (owners.length === 0 || owners.some((o) => (o === 'self' ? s.ownerId === SELF_ACCOUNT : o === s.ownerId))) &&
      matchesFilters(
        filters,
        (name) => {
          switch (name) {
            case 'snapshot-id':
              return [s.snapshotId];
            case 'volume-id':
              return [s.volumeId];
            case 'owner-id':
              return [s.ownerId];
            case 'status':
              return ['completed'];
            case 'description':
              return [s.description];
            case 'encrypted':
              return [String(s.encrypted)];
            case 'volume-size':
              return [String(s.volumeSize)];
            case 'start-time':
              return [s.startTime];
            default:
              return undefined;
          }
        },
        tagsOf(state, s.snapshotId),
      ),
  );
  const { page, nextToken } = paginate(snapshots, params.int('MaxResults'), params.get('NextToken'));
  return {
    snapshotSet: page.map((s) => ({
      snapshotId: s.snapshotId,
      volumeId: s.volumeId,
      status: 'completed',
      startTime: s.startTime,
      progress: '100%',
      ownerId: s.ownerId,
      volumeSize: s.volumeSize,
      description: s.description,
      encrypted: s.encrypted,
      kmsKeyId: s.kmsKeyId,
      storageTier: 'standard',
      tagSet: tagSetXml(state, s.snapshotId),
    })),
    nextToken,
  };
}

function deleteSnapshot(context: ActionContext) {
  const snapshot = findSnapshot(context, context.params.require('SnapshotId'));
  if (snapshot.ownerId !== SELF_ACCOUNT)
    throw new Ec2ApiError('AuthFailure', `Not authorized for snapshot:${snapshot.snapshotId}`);
  const user = context.state.images.find(
    (i) => i.region === snapshot.region && i.blockDevices.some((d) => d.snapshotId === snapshot.snapshotId),
  );
  if (user) {
    throw new Ec2ApiError(
      'InvalidSnapshot.InUse',
      `The snapshot ${snapshot.snapshotId} is currently in use by ${user.imageId}`,
    );
  }
  context.state.snapshots = context.state.snapshots.filter((s) => s !== snapshot);
  delete context.state.tags[snapshot.snapshotId];
  return { return: true };
}

function checkVolumePermissionAttribute(context: ActionContext): void {
  const attribute = context.params.get('Attribute') ?? 'createVolumePermission';
  if (attribute !== 'createVolumePermission')
    throw new Ec2ApiError('InvalidParameterValue', `Value (${attribute}) for parameter attribute is invalid`);
}

function volumePermissions(list: ActionContext['params'][]): string[] {
  return list.flatMap((entry) => {
    const user = entry.get('UserId');
    const group = entry.get('Group');
    if (user !== undefined && !/^\d{12}$/.test(user))
      throw new Ec2ApiError('InvalidParameterValue', `Invalid user id "${user}"`);
    if (group !== undefined && group !== 'all')
      throw new Ec2ApiError('InvalidParameterValue', `Invalid group "${group}"`);
    return [user, group].filter((v): v is string => v !== undefined);
  });
}

/** createVolumePermission add/remove, in the structured form (SDK v3) and the flat UserId.N + OperationType form. */
function modifySnapshotAttribute(context: ActionContext) {
  const { params } = context;
  const snapshot = findSnapshot(context, params.require('SnapshotId'));
  if (snapshot.ownerId !== SELF_ACCOUNT)
    throw new Ec2ApiError('AuthFailure', `Not authorized for snapshot:${snapshot.snapshotId}`);
  checkVolumePermissionAttribute(context);
  let add = volumePermissions(params.structs('CreateVolumePermission.Add'));
  let remove = volumePermissions(params.structs('CreateVolumePermission.Remove'));
  const flat = [...params.list('UserId'), ...params.list('UserGroup')];
  if (flat.length) {
    const operation = params.get('OperationType');
    if (operation === 'add') add = add.concat(flat);
    else if (operation === 'remove') remove = remove.concat(flat);
    else throw new Ec2ApiError('InvalidParameterValue', 'OperationType must be add or remove');
  }
  // EC2's API reference: "you can add or remove account IDs …, but you cannot do both in a single operation".
  if (add.length && remove.length) {
    throw new Ec2ApiError(
      'InvalidParameterCombination',
      'You cannot add and remove create volume permissions in a single ModifySnapshotAttribute call',
    );
  }
  const current = (snapshot.createVolumePermissions ?? []).filter((p) => !remove.includes(p));
  for (const permission of add) if (!current.includes(permission)) current.push(permission);
  snapshot.createVolumePermissions = current;
  return { return: true };
}

function describeSnapshotAttribute(context: ActionContext) {
  const snapshot = findSnapshot(context, context.params.require('SnapshotId'));
  checkVolumePermissionAttribute(context);
  const permissions = snapshot.createVolumePermissions ?? [];
  return {
    snapshotId: snapshot.snapshotId,
    createVolumePermission: permissions.map((p) => (p === 'all' ? { group: p } : { userId: p })),
  };
}

export const snapshotActions: Handlers = {
  DescribeSnapshots: describeSnapshots,
  DeleteSnapshot: deleteSnapshot,
  ModifySnapshotAttribute: modifySnapshotAttribute,
  DescribeSnapshotAttribute: describeSnapshotAttribute,
};
