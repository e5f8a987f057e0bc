/**
 * The machine side of the local cloud: where an "instance" really runs. The EC2 API
 * (src/local-cloud/ec2-api/) keeps the records; an InstanceHost gives them a filesystem, a
 * network and a running system. The real one (boot-host.ts) boots a Debian root filesystem
 * with systemd-nspawn in a network namespace of its own.
 */
import type { Architecture } from './architecture.js';

export interface LaunchRequest {
  instanceId: string;
  /** The image to start from: an image id known to this host, or BASE_IMAGE for the debootstrap base. */
  imageId: string;
  /** OpenSSH public key line (from the key pair) that may log in. */
  authorizedKey: string;
  /** RunInstances' UserData, decoded: cloud-init reads it at boot. */
  userData?: Buffer;
  /** A container (default) or a VM with its own kernel (the instance's bake:local-machine tag). */
  machine?: LocalMachineKind;
  /** The image's architecture (default x86_64): one the host does not run natively is emulated. */
  architecture?: Architecture;
  /** RunInstances' InstanceType: how many vCPUs and how much memory a VM gets (vm-size.ts). */
  instanceType?: string;
}

/** What a local instance runs on: the host's kernel (systemd-nspawn) or its own (qemu). */
export type LocalMachineKind = 'container' | 'vm';

export interface InstanceEndpoint {
  /** The instance's own address (its network namespace's), e.g. 198.18.0.2. */
  ip: string;
  sshPort: number;
}

export const BASE_IMAGE = 'base';

/** The debootstrap base of each architecture, as the host knows it (x86_64's keeps its old id). */
export const BASE_IMAGES: Record<Architecture, string> = { x86_64: BASE_IMAGE, arm64: 'base-arm64' };

/** The architecture of a host image id that names a debootstrap base; undefined for a captured image. */
export function baseImageArchitecture(imageId: string): Architecture | undefined {
  return (Object.keys(BASE_IMAGES) as Architecture[]).find((architecture) => BASE_IMAGES[architecture] === imageId);
}

export interface InstanceHost {
  /** Makes the instance's filesystem from the image and boots it; resolves once its sshd answers. */
  launch(request: LaunchRequest): Promise<InstanceEndpoint>;
  /** Powers the instance off; the filesystem stays (StopInstances). */
  stop(instanceId: string): Promise<void>;
  /** Boots a stopped (or, after a restart of bake, orphaned) instance again; `instanceType` as it is now (ModifyInstanceAttribute). */
  start(instanceId: string, authorizedKey: string, instanceType?: string): Promise<InstanceEndpoint>;
  /** Keeps the instance's filesystem as a new image (CreateImage). */
  capture(instanceId: string, imageId: string): Promise<void>;
  /** The image's filesystem is also known under another id (CopyImage to another region). */
  alias(imageId: string, newImageId: string): Promise<void>;
  /** Powers the instance off and removes its filesystem and network. */
  terminate(instanceId: string): Promise<void>;
  /** Removes an image's filesystem when no id refers to it any more (DeregisterImage). */
  deleteImage(imageId: string): Promise<void>;
  /**
   * Refuses SSH connections to the running instance (TCP reset, as a port nobody listens on yet)
   * until `until` (epoch ms), also across a reboot by CreateImage: how a latency profile's
   * "SSH ready ~20 s after running" shows to Packer and ssh. Hosts without it leave it out.
   */
  holdSsh?(instanceId: string, until: number): Promise<void>;
  /**
   * Refuses (one line: why, and how to fix it) an architecture this host cannot boot, before
   * RunInstances records anything. Hosts that boot nothing real leave it out.
   */
  requireArchitecture?(architecture: Architecture): Promise<void>;
  /**
   * `listener` is told when an instance stopped by itself (a local VM that powered off, rebooted
   * more often than bake allows, or did not come back from a reboot), with why: the API records
   * it stopped, as EC2 records an instance-initiated shutdown. Hosts whose instances never do leave it out.
   */
  onStoppedByGuest?(listener: (instanceId: string, reason: string) => void): void;
  /** What the instance's console printed (GetConsoleOutput); hosts without a console leave it out. */
  consoleOutput?(instanceId: string): Promise<string>;
  /** Powers off every instance this host booted (bake exits); filesystems stay. */
  close(): Promise<void>;
}
