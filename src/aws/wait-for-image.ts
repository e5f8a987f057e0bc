import { waitUntilImageAvailable, type EC2Client } from '@aws-sdk/client-ec2';
import { createEc2Client } from './clients.js';
import { cloudError } from './image-catalog.js';
import type { AwsSettings } from './settings.js';
import { scaledWaiterTiming } from './simulated-waits.js';

/**
 * Waits until an AMI (a fresh copy, usually) is available; fails clearly when it ends up failed.
 * The SDK's waiter polls with backoff from 1 s up to 15 s: a local copy is seen within a second,
 * a cross-region copy of a large image is polled a few hundred times in an hour, not thousands.
 */
export async function waitForImage(
  settings: AwsSettings,
  region: string,
  imageId: string,
  maxWaitSeconds = 3600,
  client?: EC2Client,
  abortSignal?: AbortSignal,
): Promise<void> {
  const ec2 = client ?? createEc2Client(settings, region);
  try {
    const timing = scaledWaiterTiming({ minDelay: 1, maxDelay: 15, maxWaitTime: maxWaitSeconds }, settings.timeScale);
    await waitUntilImageAvailable({ client: ec2, ...timing, abortSignal }, { ImageIds: [imageId] });
  } catch (error) {
    throw cloudError(error, `waiting for ${imageId} in ${region} to become available`);
  } finally {
    if (!client) ec2.destroy();
  }
}
