/**
 * The launch test's one code path (EC2 API + SSH) against the local cloud with its real instance
 * host: a temporary key pair and security group, RunInstances with IMDSv2 and user-data, SSH with
 * the key EC2 handed out, the checks run on the instance, and everything removed afterwards — also
 * when a check fails and when the build is interrupted mid-test.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateImageCommand,
  DeleteKeyPairCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  ImportKeyPairCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilImageAvailable,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
} from '@aws-sdk/client-ec2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ec2TestInstanceSession, LAUNCH_TEST_OF_TAG } from '../../src/aws/test-instance.js';
import { runLaunchTest, type LaunchTestRequest } from '../../src/launch-test/launch-test.js';
import { sshRemoteMachine } from '../../src/launch-test/remote.js';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import {
  DEFAULT_LAUNCH_TEST_TIMEOUT_MS,
  type LaunchTestSpec,
  type Recipe,
  type VerifyCheck,
} from '../../src/recipes/model.js';
import { bakeryOf, recipeOf } from '../pipeline/bakery.js';
import {
  makeKeyPair,
  networksClaimedBy,
  processesUsing,
  ssh,
  testBaseRootfs,
  testRootfsCache,
} from '../local-cloud/instances.js';
import { mountsUnder } from '../../src/local-cloud/rootfs.js';

const stateDir = mkdtempSync(path.join(tmpdir(), 'bake-launch-test-'));
const root = mkdtempSync(path.join(tmpdir(), 'bake-launch-test-bakery-'));
const region = 'us-east-1';
let cloud: LocalCloud;
let ec2: EC2Client;
const previousCache = process.env.BAKE_ROOTFS_CACHE;

beforeAll(async () => {
  process.env.BAKE_ROOTFS_CACHE = testRootfsCache();
  await testBaseRootfs();
  cloud = await startLocalCloud({ stateDir });
  ec2 = new EC2Client({ region, endpoint: cloud.endpoint, credentials: cloud.credentials });
  mkdirSync(path.join(root, 'cloud-init'));
}, 900_000);

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
  if (previousCache === undefined) delete process.env.BAKE_ROOTFS_CACHE;
  else process.env.BAKE_ROOTFS_CACHE = previousCache;
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});

const at = { file: 'recipes/web.yaml', line: 20, col: 5 };
/** One check of any kind, less its location. */
type UnlocatedCheck = {
  [K in VerifyCheck['kind']]: Omit<Extract<VerifyCheck, { kind: K }>, 'location'>;
}[VerifyCheck['kind']];
const check = (c: UnlocatedCheck): VerifyCheck => ({ ...c, location: at }) as VerifyCheck;

function recipeWith(spec: Partial<LaunchTestSpec>, verify: VerifyCheck[] = []): Recipe {
  return recipeOf(
    root,
    'web',
    { kind: 'ami', ami: baseImageId(region) },
    {
      verify,
      launchTest: {
        enabled: true,
        userData: [],
        checks: [],
        timeoutMs: DEFAULT_LAUNCH_TEST_TIMEOUT_MS,
        location: at,
        ...spec,
      },
    },
  );
}

function request(
  recipe: Recipe,
  extra: Partial<LaunchTestRequest> = {},
): { request: LaunchTestRequest; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    request: {
      bakery: bakeryOf(root, [recipe]),
      recipe,
      region,
      imageId: baseImageId(region),
      target: { sshPort: cloud.sshPort },
      log: (line) => void lines.push(line),
      ...extra,
    },
  };
}

const deps = {
  session: (r: string) => ec2TestInstanceSession(ec2, r),
  remote: sshRemoteMachine,
  now: () => Date.now(),
};

/**
 * Launch tests still running. A test that runs out of time fails, but its launch test goes on and
 * cleans up later: the next test waits for that instead of finding its instance, group and key.
 */
const running = new Set<Promise<unknown>>();
function launchTest(req: LaunchTestRequest): ReturnType<typeof runLaunchTest> {
  const test = runLaunchTest(req, deps);
  running.add(test);
  void test.finally(() => running.delete(test)).catch(() => undefined);
  return test;
}
afterEach(async () => {
  await Promise.allSettled([...running]);
});

/** What a launch test may leave behind: nothing but terminated instances (no group, key, process, mount or namespace). */
async function leftovers(): Promise<string[]> {
  const filter = [{ Name: 'tag-key', Values: [LAUNCH_TEST_OF_TAG] }];
  const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ Filters: filter }));
  const instances = Reservations.flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
  const { SecurityGroups = [] } = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: filter }));
  const { KeyPairs = [] } = await ec2.send(new DescribeKeyPairsCommand({ Filters: filter }));
  return [
    ...instances.map((i) => `instance ${i.InstanceId} (${i.State?.Name})`),
    ...SecurityGroups.map((g) => `security group ${g.GroupId}`),
    ...KeyPairs.map((k) => `key pair ${k.KeyName}`),
    ...processesUsing(path.join(stateDir, 'instances')),
    ...(await mountsUnder(path.join(stateDir, 'instances'))),
    ...networksClaimedBy(process.pid).map((name) => `network ${name}`),
  ];
}

const WAIT = { maxWaitTime: 300, minDelay: 1, maxDelay: 2 };

/** An image made from the Debian base with cloud-init purged (dpkg, offline), as a team's own base image might be. */
async function imageWithoutCloudInit(): Promise<string> {
  const keys = await makeKeyPair(mkdtempSync(path.join(tmpdir(), 'bake-no-cloud-init-')));
  await ec2.send(
    new ImportKeyPairCommand({ KeyName: 'no-cloud-init', PublicKeyMaterial: Buffer.from(keys.publicKey) }),
  );
  const run = await ec2.send(
    new RunInstancesCommand({ ImageId: baseImageId(region), KeyName: 'no-cloud-init', MinCount: 1, MaxCount: 1 }),
  );
  const instanceId = run.Instances![0].InstanceId!;
  try {
    await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    const [instance] = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]
      .Instances!;
    const endpoint = { ip: instance.PublicIpAddress!, sshPort: cloud.sshPort };
    const purge = () => ssh(keys.privateKey, endpoint, 'sudo dpkg --purge cloud-init', 'admin');
    let purged = await purge();
    // 255: sshd not up yet, or cloud-init has not given admin the key yet.
    for (let attempt = 0; purged.exitCode === 255 && attempt < 240; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      purged = await purge();
    }
    expect(purged.exitCode, purged.all).toBe(0);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntilInstanceStopped({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
    const { ImageId } = await ec2.send(
      new CreateImageCommand({ InstanceId: instanceId, Name: 'debian-without-cloud-init' }),
    );
    await waitUntilImageAvailable({ client: ec2, ...WAIT }, { ImageIds: [ImageId!] });
    return ImageId!;
  } finally {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'no-cloud-init' }));
  }
}

describe('a launch test on the local cloud', () => {
  it('boots the image with a temporary key pair and security group, runs the checks over SSH, and removes all it made', async () => {
    const recipe = recipeWith(
      { checks: [check({ kind: 'command', command: 'test "$(id -u)" = 0 && grep -q bookworm /etc/os-release' })] },
      [check({ kind: 'file', path: '/etc/debian_version' }), check({ kind: 'package', name: 'coreutils' })],
    );
    const { request: req, lines } = request(recipe);
    const result = await launchTest(req);

    expect(result, lines.join('\n')).toMatchObject({
      status: 'passed',
      image: baseImageId(region),
      region,
      instance_type: 't3.small',
    });
    expect(result.instance_id).toMatch(/^i-/);
    expect(result.checks.map((c) => [c.check, c.status])).toEqual([
      ['file exists: /etc/debian_version', 'passed'],
      ['package installed: coreutils', 'passed'],
      ['command: test "$(id -u)" = 0 && grep -q bookworm /etc/os-release', 'passed'],
    ]);
    expect(result.cleanup_problems).toEqual([]);
    expect(lines.join('\n')).toMatch(/launching t3\.small from ami-\w+ in us-east-1/);
    expect(lines.join('\n')).toMatch(new RegExp(`removing ${result.instance_id}, sg-\\w+, bake-launch-test-web-\\w+`));
    expect(await leftovers()).toEqual([]);
  });

  it('fails on a check that fails on the booted machine, shows its output, and still removes everything', async () => {
    const recipe = recipeWith({ checks: [check({ kind: 'file', path: '/run/app-configured' })] }, [
      check({ kind: 'file', path: '/etc/debian_version' }),
    ]);
    const { request: req, lines } = request(recipe);
    const result = await launchTest(req);

    expect(result.status).toBe('failed');
    expect(result.error).toBe('1 of 2 checks failed on the booted instance: file exists: /run/app-configured');
    expect(result.checks[1]).toMatchObject({ status: 'failed', location: 'recipes/web.yaml:20:5' });
    expect(lines).toContain('launch test: FAILED: file exists: /run/app-configured');
    expect(await leftovers()).toEqual([]);
  });

  it('stops when the build is interrupted mid-test and leaves no instance, security group, key pair or process behind', async () => {
    const controller = new AbortController();
    const recipe = recipeWith({}, [check({ kind: 'command', command: 'sleep 600' })]);
    const { request: req, lines } = request(recipe, {
      signal: controller.signal,
      log: (line) => {
        lines.push(line);
        // The check is running on the instance: Ctrl-C now.
        if (line.includes('waiting for cloud-init')) setTimeout(() => controller.abort(), 1_500);
      },
    });
    const started = Date.now();
    const result = await launchTest(req);

    expect(result.status, lines.join('\n')).toBe('interrupted');
    expect(result.error).toBe('launch test interrupted');
    expect(Date.now() - started).toBeLessThan(300_000);
    expect(result.cleanup_problems).toEqual([]);
    expect(await leftovers()).toEqual([]);
  });

  it('applies the user-data at boot (write_files and runcmd) before the checks run', async () => {
    writeFileSync(
      path.join(root, 'cloud-init', 'applied.yaml.hbs'),
      '#cloud-config\nwrite_files:\n  - path: /etc/app/server-name\n    content: {{server_name}}\nruncmd:\n  - [sh, -c, "echo ran > /run/runcmd-ran"]\n',
    );
    const recipe = recipeWith({
      userData: [
        { template: 'applied.yaml.hbs', vars: { server_name: "www.test.example.com'; rm -rf /" }, location: at },
      ],
      checks: [
        check({ kind: 'file', path: '/etc/app/server-name', contains: "www.test.example.com'; rm -rf /" }),
        check({ kind: 'file', path: '/run/runcmd-ran', contains: 'ran' }),
      ],
    });
    const { request: req, lines } = request(recipe);
    const result = await launchTest(req);
    expect(result.status, lines.join('\n')).toBe('passed');
    expect(result.cloud_init).toMatchObject({ status: 'done' });
    expect(result.checks.map((c) => c.status)).toEqual(['passed', 'passed']);
    expect(await leftovers()).toEqual([]);
  });

  it('fails on a cloud-init error and shows cloud-init’s own lines about it', async () => {
    writeFileSync(
      path.join(root, 'cloud-init', 'broken.yaml.hbs'),
      '#cloud-config\nruncmd:\n  - [sh, -c, "echo about to fail >&2; exit 3"]\n',
    );
    const recipe = recipeWith({ userData: [{ template: 'broken.yaml.hbs', vars: {}, location: at }] }, [
      check({ kind: 'file', path: '/etc/debian_version' }),
    ]);
    const { request: req, lines } = request(recipe);
    const result = await launchTest(req);
    expect(result.status).toBe('failed');
    expect(result.error).toBe(`cloud-init reported an error on ${result.instance_id}`);
    expect(result.cloud_init.status).toBe('error');
    expect(result.cloud_init.output).toMatch(/status: error/);
    expect(result.cloud_init.output).toMatch(/scripts.user|runcmd|about to fail/);
    expect(result.checks).toEqual([]);
    expect(lines.some((line) => line.startsWith('launch test:   ') && /error|fail/i.test(line))).toBe(true);
    expect(await leftovers()).toEqual([]);
  });

  it('fails on a service that is enabled but not running', async () => {
    writeFileSync(
      path.join(root, 'cloud-init', 'unit.yaml.hbs'),
      '#cloud-config\nwrite_files:\n  - path: /etc/systemd/system/broken.service\n    content: |\n      [Service]\n      ExecStart=/bin/false\n      [Install]\n      WantedBy=multi-user.target\nruncmd:\n  - [systemctl, enable, --now, broken.service]\n',
    );
    const recipe = recipeWith({
      userData: [{ template: 'unit.yaml.hbs', vars: {}, location: at }],
      checks: [check({ kind: 'service', name: 'broken' })],
    });
    const { request: req, lines } = request(recipe);
    const result = await launchTest(req);
    expect(result.status, lines.join('\n')).toBe('failed');
    expect(result.checks.map((c) => [c.check, c.status])).toEqual([['service running: broken', 'failed']]);
    expect(result.checks[0].output).toMatch(/not active: (failed|inactive)/);
    expect(await leftovers()).toEqual([]);
  });

  it('runs the checks on an image without cloud-init, and fails a test whose user-data could not apply there', async () => {
    const imageId = await imageWithoutCloudInit();
    // Without cloud-init nothing gives the login user the launch key: such images are reached as root,
    // whose key the instance host (EC2's metadata in the local cloud) writes itself.
    const asRoot = (spec: Partial<LaunchTestSpec>): Recipe => ({
      ...recipeWith({ timeoutMs: 300_000, ...spec }),
      sshUsername: 'root',
    });
    const plain = request(asRoot({ checks: [check({ kind: 'command', command: '! command -v cloud-init' })] }), {
      imageId,
    });
    const passed = await launchTest(plain.request);
    expect(passed.status, plain.lines.join('\n')).toBe('passed');
    expect(passed.cloud_init).toMatchObject({
      status: 'absent',
      output: expect.stringContaining('cloud-init is not installed in this image'),
    });
    expect(passed.checks.map((c) => c.status)).toEqual(['passed']);

    writeFileSync(
      path.join(root, 'cloud-init', 'marker.yaml.hbs'),
      '#cloud-config\nwrite_files:\n  - path: /run/marker\n    content: x\n',
    );
    const withUserData = request(
      asRoot({
        userData: [{ template: 'marker.yaml.hbs', vars: {}, location: at }],
        checks: [check({ kind: 'file', path: '/run/marker' })],
      }),
      { imageId },
    );
    const failed = await launchTest(withUserData.request);
    expect(failed.status).toBe('failed');
    expect(failed.error).toBe("the image has no cloud-init, so the test's user-data cannot apply");
    expect(failed.checks).toEqual([]);
    expect(await leftovers()).toEqual([]);
  }, 900_000);
});
