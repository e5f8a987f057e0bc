/**
 * arm64 instances of the local cloud, for real: the arm64 Debian base debootstrapped under
 * qemu-user, booted by systemd-nspawn exactly like an x86_64 one (user namespace, network
 * namespace, firewall, cgroup, seed, cloud-init, sshd), reached over SSH, launch-tested through
 * the EC2 API; and refused in one line on a host that cannot emulate aarch64.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DescribeInstancesCommand,
  EC2Client,
  ImportKeyPairCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ec2TestInstanceSession } from '../../src/aws/test-instance.js';
import { runLaunchTest } from '../../src/launch-test/launch-test.js';
import { sshRemoteMachine } from '../../src/launch-test/remote.js';
import { createBootHost } from '../../src/local-cloud/boot-host.js';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { ensureBaseRootfs } from '../../src/local-cloud/rootfs.js';
import { DEFAULT_LAUNCH_TEST_TIMEOUT_MS } from '../../src/recipes/model.js';
import { bakeryOf, recipeOf } from '../pipeline/bakery.js';
import { makeKeyPair, ssh, testRootfsCache } from './instances.js';

const region = 'us-east-1';
const stateDir = mkdtempSync(path.join(tmpdir(), 'bake-arm64-'));
const measured: Record<string, string> = {};
const notices: string[] = [];
let cloud: LocalCloud;
let ec2: EC2Client;
let keys: { privateKey: string; publicKey: string };

beforeAll(async () => {
  const started = Date.now();
  // The first run on a machine debootstraps arm64 under emulation (10-20 minutes); later runs find it.
  await ensureBaseRootfs({ cacheDir: testRootfsCache(), architecture: 'arm64', log: (l) => notices.push(l) });
  measured['arm64 base root filesystem (cached after the first run)'] = `${Date.now() - started} ms`;
  // The real boot host, on the tests' shared cache (so no debootstrap of its own).
  cloud = await startLocalCloud({ stateDir, host: createBootHost({ stateDir, rootfsCache: testRootfsCache() }) });
  ec2 = new EC2Client({ region, endpoint: cloud.endpoint, credentials: cloud.credentials });
  keys = await makeKeyPair(stateDir);
  await ec2.send(new ImportKeyPairCommand({ KeyName: 'arm64-test', PublicKeyMaterial: Buffer.from(keys.publicKey) }));
}, 1_800_000);

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
  rmSync(stateDir, { recursive: true, force: true });
  console.log(
    ['arm64 local cloud, measured:', ...Object.entries(measured).map(([k, v]) => `  ${k}: ${v}`), ...notices].join(
      '\n',
    ),
  );
});

const WAIT = { maxWaitTime: 600, minDelay: 1, maxDelay: 2 };
/** Emulated boots take a minute on a loaded 2-core machine; room for several times that. */
const EMULATED = 900_000;

/** RunInstances, then the time until the instance's sshd lets `admin` in (cloud-init gave it the key). */
async function bootAndReachSsh(imageId: string, instanceType: _InstanceType) {
  const started = Date.now();
  const run = await ec2.send(
    new RunInstancesCommand({
      ImageId: imageId,
      InstanceType: instanceType,
      KeyName: 'arm64-test',
      MinCount: 1,
      MaxCount: 1,
    }),
  );
  const instanceId = run.Instances![0].InstanceId!;
  await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
  const [instance] = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]
    .Instances!;
  const endpoint = { ip: instance.PublicIpAddress!, sshPort: cloud.sshPort };
  let reached = await ssh(keys.privateKey, endpoint, 'true', 'admin');
  // 255: sshd not up yet, or cloud-init has not given admin the key yet.
  for (let attempt = 0; reached.exitCode === 255 && attempt < 600; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    reached = await ssh(keys.privateKey, endpoint, 'true', 'admin');
  }
  expect(reached.exitCode, reached.all).toBe(0);
  return { instanceId, instance, endpoint, ms: Date.now() - started };
}

async function terminate(instanceId: string): Promise<void> {
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  await waitUntilInstanceTerminated({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
}

describe('an arm64 instance of the local cloud', () => {
  it(
    'boots the arm64 base on a t4g type under emulation: `uname -m` over SSH says aarch64',
    async () => {
      const booted = await bootAndReachSsh(baseImageId(region, 'arm64'), 't4g.small');
      measured['arm64 t4g.small: RunInstances to admin logged in over SSH'] = `${booted.ms} ms`;
      try {
        expect(booted.instance.Architecture).toBe('arm64');
        const result = await ssh(
          keys.privateKey,
          booted.endpoint,
          'uname -m; dpkg --print-architecture; cat /proc/1/comm',
          'admin',
        );
        expect(result.stdout.split('\n'), result.all).toEqual(['aarch64', 'arm64', 'systemd']);
        // Asked again and again rather than `--wait`: one ssh command is cut off after a minute,
        // and emulated cloud-init can take longer than that on a loaded machine.
        let status = await ssh(keys.privateKey, booted.endpoint, 'cloud-init status', 'admin');
        for (let attempt = 0; /status: (running|not started)/.test(status.stdout) && attempt < 300; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          status = await ssh(keys.privateKey, booted.endpoint, 'cloud-init status', 'admin');
        }
        expect(status.stdout, status.all).toBe('status: done');
        // Every unit of the boot started under emulation, as on a real Graviton instance.
        const failed = await ssh(keys.privateKey, booted.endpoint, 'systemctl --failed --plain --no-legend', 'admin');
        expect(failed.stdout, failed.all).toBe('');
      } finally {
        await terminate(booted.instanceId);
      }
    },
    EMULATED,
  );

  it('boots the x86_64 base beside it, natively, as before (for the figures)', async () => {
    const booted = await bootAndReachSsh(baseImageId(region), 't3.small');
    measured['x86_64 t3.small: RunInstances to admin logged in over SSH'] = `${booted.ms} ms`;
    try {
      expect((await ssh(keys.privateKey, booted.endpoint, 'uname -m', 'admin')).stdout).toBe('x86_64');
    } finally {
      await terminate(booted.instanceId);
    }
  });

  it(
    'passes a launch test of the arm64 image on an arm64 instance type, through the EC2 API and SSH',
    async () => {
      const root = mkdtempSync(path.join(tmpdir(), 'bake-arm64-bakery-'));
      mkdirSync(path.join(root, 'cloud-init'));
      const at = { file: 'recipes/web.yaml', line: 1, col: 1 };
      const recipe = recipeOf(
        root,
        'web',
        { kind: 'ami', ami: baseImageId(region, 'arm64') },
        {
          instanceType: 't4g.small',
          launchTest: {
            enabled: true,
            userData: [],
            checks: [{ kind: 'command', command: 'test "$(uname -m)" = aarch64', location: at }],
            timeoutMs: DEFAULT_LAUNCH_TEST_TIMEOUT_MS,
            location: at,
          },
        },
      );
      const lines: string[] = [];
      const started = Date.now();
      try {
        const result = await runLaunchTest(
          {
            bakery: bakeryOf(root, [recipe]),
            recipe,
            region,
            imageId: baseImageId(region, 'arm64'),
            target: { sshPort: cloud.sshPort },
            log: (line) => void lines.push(line),
          },
          { session: (r) => ec2TestInstanceSession(ec2, r), remote: sshRemoteMachine, now: () => Date.now() },
        );
        measured['arm64 launch test (t4g.small, one check)'] = `${Date.now() - started} ms`;
        expect(result.status, `${result.error}\n${lines.join('\n')}`).toBe('passed');
        expect(result.instance_type).toBe('t4g.small');
        expect(result.checks.map((c) => [c.check, c.status])).toEqual([
          ['command: test "$(uname -m)" = aarch64', 'passed'],
        ]);
        expect(result.cleanup_problems).toEqual([]);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
    EMULATED,
  );
});

describe('a host that cannot emulate aarch64', () => {
  it('refuses an arm64 RunInstances in one line saying why and how to fix it, and still boots nothing for it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bake-arm64-refused-'));
    // A folder standing in for /proc/sys/fs/binfmt_misc: mounted, enabled, no aarch64 handler.
    const binfmt = path.join(dir, 'binfmt_misc');
    mkdirSync(binfmt);
    writeFileSync(path.join(binfmt, 'status'), 'enabled\n');
    writeFileSync(path.join(binfmt, 'register'), '');
    const host = createBootHost({
      stateDir: path.join(dir, 'state'),
      rootfsCache: testRootfsCache(),
      binfmtDir: binfmt,
    });
    const refusing = await startLocalCloud({ stateDir: path.join(dir, 'state'), host });
    const client = new EC2Client({
      region,
      endpoint: refusing.endpoint,
      credentials: refusing.credentials,
      maxAttempts: 1,
    });
    try {
      const error = await client
        .send(
          new RunInstancesCommand({
            ImageId: baseImageId(region, 'arm64'),
            InstanceType: 't4g.small',
            MinCount: 1,
            MaxCount: 1,
          }),
        )
        .catch((e: Error) => e);
      expect(error).toMatchObject({ name: 'Unsupported' });
      expect((error as Error).message).toBe(
        `arm64 instances run under qemu-user emulation, but no aarch64 handler is registered in ${binfmt}: run scripts/setup.sh as root (it installs qemu-user-static and binfmt-support and registers the handler), or: apt-get install qemu-user-static binfmt-support`,
      );
      const { Reservations = [] } = await client.send(new DescribeInstancesCommand({}));
      expect(Reservations).toEqual([]);
    } finally {
      client.destroy();
      await refusing.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
