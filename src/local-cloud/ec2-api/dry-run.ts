import type { ActionContext } from './action.js';
import { Ec2ApiError } from './api-error.js';
import { findImage } from './actions/images.js';
import { OFFERED_INSTANCE_TYPES } from './actions/instance-types.js';
import { findInstance } from './actions/instances.js';
import { findSnapshot } from './actions/snapshots.js';
import { resources } from './actions/tags.js';
import { defaultSubnetId } from './seed.js';

/**
 * `DryRun=true`: EC2 checks the caller's permission (done before this, by the deny list) and the
 * request's resources, then answers `DryRunOperation` (HTTP 412) instead of acting. The resources a
 * request names are checked as the real action would (an image that is not there, a subnet of
 * another VPC, an instance type the region does not offer): a dry run that passes here would have
 * been accepted. Nothing is changed, whatever the action.
 */
export function answerDryRun(context: ActionContext): never {
  const { params, region } = context;
  const imageId = params.get('ImageId');
  if (imageId) findImage(context, imageId);
  const sourceImageId = params.get('SourceImageId');
  if (sourceImageId) findImage(context, sourceImageId, params.get('SourceRegion') ?? region);
  const snapshotId = params.get('SnapshotId');
  if (snapshotId) findSnapshot(context, snapshotId);
  const subnetId = params.get('SubnetId');
  if (subnetId && subnetId !== defaultSubnetId(region))
    throw new Ec2ApiError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
  const instanceType = params.get('InstanceType');
  if (instanceType && !OFFERED_INSTANCE_TYPES.includes(instanceType))
    throw new Ec2ApiError(
      'Unsupported',
      `Your requested instance type (${instanceType}) is not supported in your requested Availability Zone (${region}a).`,
    );
  if (params.has('ResourceId')) resources(context);
  for (const instanceId of params.list('InstanceId')) findInstance(context, instanceId);
  throw new Ec2ApiError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
}
