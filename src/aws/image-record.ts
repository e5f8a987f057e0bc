/** One AMI that bake made, as read back from EC2 tags. EC2 tags are the source of truth. */
export interface ImageRecord {
  imageId: string;
  region: string;
  name: string;
  /** `bake:recipe` */
  recipe: string;
  /** `bake:fingerprint` */
  fingerprint: string;
  /** ISO 8601, EC2's CreationDate. */
  createdAt: string;
  state: string;
  snapshotIds: string[];
  /** ISO 8601, EC2's DeprecationTime, when set. */
  deprecationTime?: string;
  tags: Record<string, string>;
}

/** Reads what has been built. Implemented over EC2 (src/aws/image-catalog.ts). */
export interface ImageCatalog {
  /** Every image tagged `bake:recipe` in these regions (a fixed number of paginated calls per region). */
  listBakedImages(regions: string[]): Promise<ImageRecord[]>;
}
