/**
 * The machine side of the local cloud: where an "instance" really runs. The EC2 API
 * (src/local-cloud/ec2-api/) keeps the records; an InstanceHost gives them a filesystem
 * and an SSH endpoint. The real one (chroot-host.ts) copies a debootstrap root filesystem
 * and starts an sshd chrooted into it on a loopback address.
 */
export interface LaunchRequest {
  instanceId: string;
  /** The image to start from: an image id known to this host, or BASE_IMAGE for the debootstrap base. */
  imageId: string;
  /** OpenSSH public key line (from the key pair) that may log in. */
  authorizedKey: string;
}

export interface InstanceEndpoint {
  /** Loopback address unique to the instance, e.g. 127.0.0.7. */
  ip: string;
  sshPort: number;
}

export const BASE_IMAGE = 'base';

export interface InstanceHost {
  /** Copies the image's filesystem for the instance and starts its sshd. */
  launch(request: LaunchRequest): Promise<InstanceEndpoint>;
  /** Stops sshd; the filesystem stays (StopInstances). */
  stop(instanceId: string): Promise<void>;
  /** Starts sshd again on a stopped (or, after a restart of bake, orphaned) instance. */
  start(instanceId: string, authorizedKey: string): Promise<InstanceEndpoint>;
  /** Keeps the instance's filesystem as a new image (CreateImage). */
  capture(instanceId: string, imageId: string): Promise<void>;
  /** The image's filesystem is also known under another id (CopyImage to another region). */
  alias(imageId: string, newImageId: string): Promise<void>;
  /** Stops sshd and removes the instance's filesystem. */
  terminate(instanceId: string): Promise<void>;
  /** Removes an image's filesystem when no id refers to it any more (DeregisterImage). */
  deleteImage(imageId: string): Promise<void>;
  /** Stops every sshd this host started (bake exits); filesystems stay. */
  close(): Promise<void>;
}
