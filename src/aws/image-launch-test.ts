/**
 * One image's launch-test state as EC2 says it now (DescribeImages of its id): what a child baked
 * on an untested parent image watches (src/pipeline/untested-parent.ts).
 */
import { DescribeImagesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { LAUNCH_TEST_TAG } from '../tags/tag-contract.js';
import { cloudError } from './image-catalog.js';

/** `gone`: no such image, or not available any more (deregistered); `untagged`: no bake:launch-test tag. */
export type ImageLaunchTestState = 'pending' | 'passed' | 'failed' | 'untagged' | 'gone';

export async function imageLaunchTestState(
  ec2: EC2Client,
  region: string,
  imageId: string,
): Promise<ImageLaunchTestState> {
  let image;
  try {
    image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
  } catch (error) {
    const code = (error as { Code?: string; name?: string }).Code ?? (error as { name?: string }).name ?? '';
    if (/^InvalidAMIID\./.test(code)) return 'gone';
    throw cloudError(error, `looking up ${imageId} in ${region}`);
  }
  if (!image || image.State !== 'available') return 'gone';
  const value = image.Tags?.find((tag) => tag.Key === LAUNCH_TEST_TAG)?.Value;
  return value === 'pending' || value === 'passed' || value === 'failed' ? value : 'untagged';
}
