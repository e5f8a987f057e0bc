/**
 * The EC2 side of bake's distribution step, as src/lifecycle/distribute.ts uses it: implemented
 * over the SDK by src/aws/image-distribution.ts, and by an in-memory stand-in in tests.
 */
import type { SharePrincipals } from './launch-permissions.js';

/** What the distribution needs to know about an image in one region. */
export interface ImageFacts {
  imageId: string;
  region: string;
  state: string;
  name: string;
  description?: string;
  snapshotIds: string[];
  tags: Record<string, string>;
  imdsSupport?: string;
  /** ISO 8601, when the image has one. */
  deprecationTime?: string;
  createdAt: string;
}

export interface CopyRequest {
  region: string;
  sourceRegion: string;
  sourceImageId: string;
  name: string;
  description?: string;
  /** Encrypt the copy's snapshots (with kmsKeyId, or the region's default EBS key). */
  encrypted: boolean;
  kmsKeyId?: string;
  /** Put on the copy as it is created, so even a copy still pending is bake's and traceable. */
  tags: Record<string, string>;
}

export interface DistributionEc2 {
  describeImage(region: string, imageId: string): Promise<ImageFacts>;
  /** The region's own image with this name (AMI names are unique per region), if any. */
  findImageByName(region: string, name: string): Promise<ImageFacts | undefined>;
  copyImage(request: CopyRequest): Promise<string>;
  waitUntilAvailable(region: string, imageId: string, signal?: AbortSignal): Promise<void>;
  /** Tags the image and its snapshots; returns the snapshot ids. */
  tagImage(region: string, imageId: string, tags: Record<string, string>): Promise<string[]>;
  /**
   * Grants launch permissions to `principals` (and the snapshots' create-volume permission to
   * its accounts). With `exactly`, also revokes every other one: for images that may have been
   * shared under earlier settings; a fresh image has none to look up.
   */
  share(
    region: string,
    imageId: string,
    snapshotIds: string[],
    principals: SharePrincipals,
    options: { exactly: boolean },
  ): Promise<void>;
  requireImdsV2(region: string, imageId: string): Promise<void>;
  deprecate(region: string, imageId: string, at: Date): Promise<void>;
  undeprecate(region: string, imageId: string): Promise<void>;
  deregister(region: string, imageId: string): Promise<void>;
}
