import { waitUntilImageAvailable } from '@aws-sdk/client-ec2';
import { createEc2Client } from './clients.js';
import { cloudError } from './image-catalog.js';
import type { AwsSettings } from './settings.js';

/** Waits until an AMI (a fresh copy, usually) is available; fails clearly when it ends up failed. */
export async function waitForImage(settings: AwsSettings, region: string, imageId: string, maxWaitSeconds = 3600): Promise<void> {
  const client = createEc2Client(settings, region);
  try {
    await waitUntilImageAvailable({ client, maxWaitTime: maxWaitSeconds, minDelay: 1, maxDelay: 15 }, { ImageIds: [imageId] });
  } catch (error) {
    throw cloudError(error, `waiting for ${imageId} in ${region} to become available`);
  } finally {
    client.destroy();
  }
}
