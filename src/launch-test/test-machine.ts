/**
 * One machine booted from an image to look at it: a temporary key pair and security group, one
 * instance (IMDSv2), SSH with the temporary key, and removal of exactly what was made, whatever
 * happened. The launch test (./launch-test.ts) and the security scan (src/scan/) both stand on it,
 * so a scan boots an image the way its launch test did, on AWS and in the local cloud alike.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestInstanceSession } from '../aws/test-instance.js';
import type { RemoteMachine, SshTarget } from './remote.js';

/** How bake reaches test instances: what differs between AWS and the local cloud. */
export interface LaunchTestTarget {
  /** 22 on EC2 (and for the local cloud's booted instances). */
  sshPort: number;
  sshInterface?: 'private_ip' | 'public_ip';
  /** CIDR allowed to SSH in; default: this agent's address towards the instance. */
  sshFrom?: string;
  /** bake's local cloud: a recipe's `local: {machine: vm}` is asked of it (LOCAL_MACHINE_TAG). */
  local?: boolean;
}

export interface TestMachineDeps {
  /** A fresh EC2 session for one test instance in a region. */
  session(region: string): TestInstanceSession;
  remote: RemoteMachine;
  now(): number;
}

export interface BootRequest {
  region: string;
  imageId: string;
  /** The recipe whose image it is: tags the temporary resources, names the login user. */
  recipe: string;
  sshUsername: string;
  subnetId?: string;
  instanceType: string;
  userData: string;
  target: LaunchTestTarget;
  signal: AbortSignal;
  maxWaitSeconds: number;
  /** On the local cloud only: boot a VM with its own kernel rather than a container. */
  localMachine?: 'vm';
}

export interface BootedMachine {
  instanceId: string;
  address: string;
  ssh: SshTarget;
}

/** A session and a private key folder; `close()` removes the instance, its group and key pair, and the folder. */
export class TestMachine {
  private constructor(
    readonly session: TestInstanceSession,
    private readonly keyDir: string,
  ) {}

  static async open(deps: TestMachineDeps, region: string): Promise<TestMachine> {
    const keyDir = await mkdtemp(path.join(tmpdir(), 'bake-test-machine-'));
    return new TestMachine(deps.session(region), keyDir);
  }

  /** RunInstances, then waits until sshd lets the temporary key in. */
  async boot(request: BootRequest, onRunning?: (instanceId: string) => void): Promise<BootedMachine> {
    const instance = await this.session.launch({
      region: request.region,
      imageId: request.imageId,
      recipe: request.recipe,
      instanceType: request.instanceType,
      subnetId: request.subnetId,
      userData: request.userData,
      sshPort: request.target.sshPort,
      sshInterface: request.target.sshInterface ?? 'private_ip',
      sshFrom: request.target.sshFrom,
      signal: request.signal,
      maxWaitSeconds: request.maxWaitSeconds,
      ...(request.target.local && request.localMachine && { localMachine: request.localMachine }),
    });
    onRunning?.(instance.instanceId);
    const keyFile = path.join(this.keyDir, 'id');
    await writeFile(keyFile, instance.privateKey, { mode: 0o600 });
    await chmod(keyFile, 0o600);
    const ssh: SshTarget = {
      ip: instance.address,
      sshPort: request.target.sshPort,
      privateKey: keyFile,
      user: request.sshUsername,
    };
    return { instanceId: instance.instanceId, address: instance.address, ssh };
  }

  async waitForSsh(machine: BootedMachine, remote: RemoteMachine, signal: AbortSignal): Promise<void> {
    await remote.waitForSsh(machine.ssh, signal, { timeScale: this.session.timeScale });
  }

  /** What is about to be removed, for the log. */
  describeMade(): string {
    const made = this.session.made;
    return (
      [made.instanceId, made.securityGroupId, made.keyName].filter(Boolean).join(', ') || 'nothing (nothing was made)'
    );
  }

  /** Removes everything made; returns what could not be removed. */
  async close(): Promise<string[]> {
    try {
      return await this.session.cleanUp();
    } finally {
      await rm(this.keyDir, { recursive: true, force: true });
    }
  }
}
