/**
 * A local VM (`local: {machine: vm}`): qemu under TCG with Debian's cloud kernel, asked for
 * through the EC2 API as a local build asks (the bake:local-machine tag), booting the same
 * root filesystem layers in the same kind of network namespace. A real time-service role runs
 * its unit there (a container can never: CAP_SYS_TIME), CreateImage keeps what the VM wrote,
 * and a container launched from that image says why the unit cannot run in it.
 * Slow by nature (a kernel boot in software emulation): one VM boot and one container boot.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DescribeInstancesCommand,
  EC2Client,
  ImportKeyPairCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { renderVerifyScript } from '../../src/packer/verify-script.js';
import { LOCAL_MACHINE_TAG } from '../../src/tags/tag-contract.js';
import { imageOfInstance } from '../local-cloud/bake-image.js';
import {
  makeKeyPair,
  networkLeftovers,
  processesUsing,
  sshArgs,
  testBaseRootfs,
  testRootfsCache,
} from '../local-cloud/instances.js';

const fixtures = path.join(import.meta.dirname, '../fixtures/local-cloud-host');
const stateDir = mkdtempSync(path.join(tmpdir(), 'bake-vm-local-'));
let cloud: LocalCloud;
let ec2: EC2Client;
let keys: { privateKey: string; publicKey: string };
const previousCache = process.env.BAKE_ROOTFS_CACHE;
const timings: string[] = [];

beforeAll(async () => {
  process.env.BAKE_ROOTFS_CACHE = testRootfsCache();
  await testBaseRootfs();
  keys = await makeKeyPair(stateDir);
  cloud = await startLocalCloud({ stateDir });
  ec2 = new EC2Client({
    region: 'us-east-1',
    endpoint: cloud.endpoint,
    credentials: cloud.credentials,
    maxAttempts: 1,
  });
  await ec2.send(new ImportKeyPairCommand({ KeyName: 'bake', PublicKeyMaterial: Buffer.from(keys.publicKey) }));
}, 900_000);

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
  if (previousCache === undefined) delete process.env.BAKE_ROOTFS_CACHE;
  else process.env.BAKE_ROOTFS_CACHE = previousCache;
  rmSync(stateDir, { recursive: true, force: true });
  console.log(['vm-local timings:', ...timings.map((line) => `  ${line}`)].join('\n'));
});

/** ssh with patience for an emulated machine: its key exchange alone takes seconds. */
function ssh(privateKey: string, endpoint: { ip: string; sshPort: number }, command: string) {
  const args = sshArgs(privateKey, endpoint).map((arg) => (arg === 'ConnectTimeout=5' ? 'ConnectTimeout=120' : arg));
  return execa('ssh', [...args, command], { reject: false, timeout: 600_000, all: true });
}

async function until<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function runningAddress(instanceId: string): Promise<string> {
  return until(async () => {
    const instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]
      .Instances![0];
    expect(instance.State?.Name, instance.StateReason?.Message).not.toBe('terminated');
    return instance.State?.Name === 'running' ? (instance.PublicIpAddress ?? instance.PrivateIpAddress) : undefined;
  });
}

/** The verify script's `service:` check, as a build's verify step runs it on the instance. */
function serviceCheck(ip: string, unit: string) {
  const script = renderVerifyScript([
    { kind: 'service', name: unit, location: { file: 'recipe.yaml', line: 1, col: 1 } },
  ]);
  return ssh(
    keys.privateKey,
    { ip, sshPort: cloud.sshPort },
    `cat > /tmp/verify.sh <<'EOF'\n${script}\nEOF\nsh /tmp/verify.sh`,
  );
}

function playbook(ip: string, file: string) {
  const inventory = path.join(stateDir, `inventory-${ip}.json`);
  writeFileSync(
    inventory,
    JSON.stringify({
      all: {
        hosts: {
          vm: {
            ansible_host: ip,
            ansible_user: 'root',
            ansible_ssh_private_key_file: keys.privateKey,
            ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
          },
        },
      },
    }),
  );
  return execa('ansible-playbook', ['-i', inventory, path.join(fixtures, file)], {
    reject: false,
    all: true,
    env: { ANSIBLE_NOCOLOR: '1', ANSIBLE_ROLES_PATH: path.join(fixtures, 'roles'), ANSIBLE_TIMEOUT: '120' },
  });
}

describe('a local VM asked for through the EC2 API', () => {
  it('boots its own kernel, runs the time service a container cannot, and CreateImage keeps what it wrote', async () => {
    let started = Date.now();
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImageId('us-east-1'),
        KeyName: 'bake',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: LOCAL_MACHINE_TAG, Value: 'vm' }] }],
      }),
    );
    const vmId = run.Instances![0].InstanceId!;
    const vmIp = await runningAddress(vmId);
    timings.push(`VM boot to sshd: ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // Its own kernel (Debian's cloud kernel, not the host's), in a VM, at the address a container would have.
    const inside = await ssh(
      keys.privateKey,
      { ip: vmIp, sshPort: cloud.sshPort },
      'uname -r; systemd-detect-virt; ip -4 -o addr show dev eth0',
    );
    expect(inside.exitCode, inside.all).toBe(0);
    const [kernel, virt, address] = inside.stdout.split('\n');
    expect(kernel).toMatch(/-cloud-amd64$/);
    expect(kernel).not.toBe((await execa('uname', ['-r'])).stdout);
    expect(virt).toBe('qemu');
    expect(address).toContain(`inet ${vmIp}/30`);
    // qemu runs as an unprivileged uid, not as root.
    const qemu = await execa('ps', ['-C', 'qemu-system-x86_64', '-o', 'uid=,args='], { reject: false });
    const ours = qemu.stdout.split('\n').filter((line) => line.includes(stateDir));
    expect(ours.length).toBe(1);
    expect(Number(ours[0].trim().split(/\s+/)[0])).toBeGreaterThan(65535);

    started = Date.now();
    const role = await playbook(vmIp, 'time-service.yml');
    expect(role.exitCode, role.all).toBe(0);
    timings.push(`time-service role (apt install chrony) in the VM: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const check = await serviceCheck(vmIp, 'chrony');
    expect(check.exitCode, check.all).toBe(0);

    started = Date.now();
    // A clean poweroff under emulation, then the VM's disk is checked and copied back: minutes on a loaded machine.
    const ImageId = await imageOfInstance(ec2, vmId, 'baked-in-a-vm', { maxWaitSeconds: 900 });
    timings.push(`VM poweroff and CreateImage: ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // The image holds what the VM installed; as a container it says why the unit cannot run, and what to ask for.
    started = Date.now();
    const container = await ec2.send(new RunInstancesCommand({ ImageId, KeyName: 'bake', MinCount: 1, MaxCount: 1 }));
    const containerId = container.Instances![0].InstanceId!;
    const containerIp = await runningAddress(containerId);
    timings.push(`container boot to sshd, same image: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const installed = await ssh(
      keys.privateKey,
      { ip: containerIp, sshPort: cloud.sshPort },
      "dpkg-query -W -f='${Status}\\n' chrony; uname -r",
    );
    expect(installed.stdout.split('\n')).toEqual(['install ok installed', (await execa('uname', ['-r'])).stdout]);
    const skipped = await serviceCheck(containerIp, 'chrony');
    expect(skipped.exitCode).not.toBe(0);
    expect(skipped.all).toContain(
      'chrony.service skipped: ConditionCapability=CAP_SYS_TIME is never true on a local instance',
    );
    expect(skipped.all).toContain('local: {machine: vm}');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [containerId] }));

    await cloud.close();
    expect(processesUsing(stateDir)).toEqual([]);
    expect(await networkLeftovers([vmIp, containerIp])).toEqual([]);
    // No VM disk outlives its instance.
    const instancesDir = path.join(stateDir, 'instances');
    const disks = existsSync(instancesDir)
      ? readdirSync(instancesDir, { recursive: true }).filter((name) => String(name).endsWith('.ext4'))
      : [];
    expect(disks).toEqual([]);
  }, 3_600_000);
});
