import { Ec2ApiError } from '../api-error.js';
import type { ActionContext } from '../action.js';
import { matchesFilters, paginate } from '../filters.js';
import { SELF_ACCOUNT, tagsOf, type SnapshotState } from '../state.js';
import { tagSetXml, type Handlers } from './shared.js';

function findSnapshot(context: ActionContext, snapshotId: string): SnapshotState {
  if (!/^snap-[0-9a-f]{8,17}$/.test(snapshotId)) throw new Ec2ApiError('InvalidSnapshotID.Malformed', `Invalid id: "${snapshotId}" (expecting "snap-...")`);
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
            case 'snapshot-id': return [s.snapshotId];
            case 'volume-id': return [s.volumeId];
            case 'owner-id': return [s.ownerId];
            case 'status': return ['completed'];
            case 'description': return [s.description];
            case 'encrypted': return [String(s.encrypted)];
            case 'volume-size': return [String(s.volumeSize)];
            case 'start-time': return [s.startTime];
            default: return undefined;
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
      storageTier: 'standard',
      tagSet: tagSetXml(state, s.snapshotId),
    })),
    nextToken,
  };
}

function deleteSnapshot(context: ActionContext) {
  const snapshot = findSnapshot(context, context.params.require('SnapshotId'));
  if (snapshot.ownerId !== SELF_ACCOUNT) throw new Ec2ApiError('AuthFailure', `Not authorized for snapshot:${snapshot.snapshotId}`);
  const user = context.state.images.find((i) => i.region === snapshot.region && i.blockDevices.some((d) => d.snapshotId === snapshot.snapshotId));
  if (user) {
    throw new Ec2ApiError('InvalidSnapshot.InUse', `The snapshot ${snapshot.snapshotId} is currently in use by ${user.imageId}`);
  }
  context.state.snapshots = context.state.snapshots.filter((s) => s !== snapshot);
  delete context.state.tags[snapshot.snapshotId];
  return { return: true };
}

export const snapshotActions: Handlers = {
  DescribeSnapshots: describeSnapshots,
  DeleteSnapshot: deleteSnapshot,
};
