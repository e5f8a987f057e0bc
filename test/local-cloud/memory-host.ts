import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import {
  BASE_IMAGE,
  BASE_IMAGES,
  type InstanceEndpoint,
  type InstanceHost,
  type LaunchRequest,
} from '../../src/local-cloud/instance-host.js';
import { startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';

/**
 * A stand-in for the boot host: "filesystems" are sets of files in memory, an instance
 * gets a loopback address, and every call is recorded. Keeps the API suite in seconds.
 */
export class MemoryHost implements InstanceHost {
  readonly calls: string[] = [];
  /** Files per image id; each architecture's base starts with the Debian release file. */
  readonly images = new Map<string, Map<string, string>>([
    [BASE_IMAGE, new Map([['/etc/debian_version', '12.8\n']])],
    [BASE_IMAGES.arm64, new Map([['/etc/debian_version', '12.8\n']])],
  ]);
  /** The architecture each launch asked for (the API passes its image's). */
  readonly launchedArchitectures = new Map<string, string | undefined>();
  readonly instances = new Map<
    string,
    { files: Map<string, string>; running: boolean; authorizedKey: string; userData?: Buffer }
  >();
  /** The instance type each launch and start asked for. */
  readonly instanceTypes: string[] = [];
  private readonly guestStopListeners: Array<(instanceId: string, reason: string) => void> = [];
  private nextIp = 2;
  failLaunch = false;
  /** How long each launch, stop, start, capture and terminate takes (a real host's boot or poweroff); 0: at once. */
  workMs = 0;

  constructor(readonly sshPort = 2222) {}

  async launch(request: LaunchRequest): Promise<InstanceEndpoint> {
    this.calls.push(`launch ${request.instanceId} ${request.imageId}`);
    await this.working();
    this.launchedArchitectures.set(request.instanceId, request.architecture);
    this.instanceTypes.push(`${request.instanceId} ${request.instanceType}`);
    if (this.failLaunch) throw new Error('no room');
    const image = this.images.get(request.imageId);
    if (!image) throw new Error(`unknown image ${request.imageId}`);
    this.instances.set(request.instanceId, {
      files: new Map(image),
      running: true,
      authorizedKey: request.authorizedKey,
      userData: request.userData,
    });
    return { ip: `127.0.0.${this.nextIp++}`, sshPort: this.sshPort };
  }

  async stop(instanceId: string): Promise<void> {
    this.calls.push(`stop ${instanceId}`);
    await this.working();
    this.instance(instanceId).running = false;
  }

  async start(instanceId: string, authorizedKey: string, instanceType?: string): Promise<InstanceEndpoint> {
    this.calls.push(`start ${instanceId}`);
    this.instanceTypes.push(`${instanceId} ${instanceType}`);
    await this.working();
    const instance = this.instance(instanceId);
    instance.running = true;
    instance.authorizedKey = authorizedKey;
    return { ip: `127.0.0.${this.nextIp++}`, sshPort: this.sshPort };
  }

  async capture(instanceId: string, imageId: string): Promise<void> {
    this.calls.push(`capture ${instanceId} ${imageId}`);
    await this.working();
    this.images.set(imageId, new Map(this.instance(instanceId).files));
  }

  async alias(imageId: string, newImageId: string): Promise<void> {
    this.calls.push(`alias ${imageId} ${newImageId}`);
    const files = this.images.get(imageId);
    if (!files) throw new Error(`unknown image ${imageId}`);
    this.images.set(newImageId, files);
  }

  async terminate(instanceId: string): Promise<void> {
    this.calls.push(`terminate ${instanceId}`);
    await this.working();
    this.instances.delete(instanceId);
  }

  async deleteImage(imageId: string): Promise<void> {
    this.calls.push(`deleteImage ${imageId}`);
    this.images.delete(imageId);
  }

  async close(): Promise<void> {
    this.calls.push('close');
  }

  onStoppedByGuest(listener: (instanceId: string, reason: string) => void): void {
    this.guestStopListeners.push(listener);
  }

  /** The instance powers itself off (a local VM's guest): the host tells the API, as boot-host.ts does. */
  stopByGuest(instanceId: string, reason: string): void {
    this.instance(instanceId).running = false;
    for (const listener of this.guestStopListeners) listener(instanceId, reason);
  }

  private async working(): Promise<void> {
    if (this.workMs) await new Promise((resolve) => setTimeout(resolve, this.workMs));
  }

  private instance(instanceId: string) {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new Error(`unknown instance ${instanceId}`);
    return instance;
  }
}

export interface TestCloud {
  cloud: LocalCloud;
  host: MemoryHost;
  stateDir: string;
  ec2(region?: string): EC2Client;
  close(): Promise<void>;
}

export async function startTestCloud(host = new MemoryHost()): Promise<TestCloud> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'bake-local-cloud-'));
  const cloud = await startLocalCloud({ stateDir, host, sshPort: host.sshPort });
  const clients: EC2Client[] = [];
  return {
    cloud,
    host,
    stateDir,
    ec2(region = 'us-east-1') {
      const client = new EC2Client({
        region,
        endpoint: cloud.endpoint,
        credentials: cloud.credentials,
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.destroy();
      await cloud.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
