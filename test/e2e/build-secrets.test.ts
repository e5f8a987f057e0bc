/**
 * Build-time secrets for real: `bake build --local` with real Packer 1.6.6 and real Ansible. The
 * role receives a canary secret from the environment and one from an SSM SecureString, writes
 * their digests into the image, and is careless with them as roles sometimes are: prints them,
 * passes one to a command (Ansible logs module arguments on the target), logs them through syslog
 * and into a log file. Afterwards no canary is anywhere: not in the bakery (work files, logs,
 * JUnit, the local cloud's state and its images' files), not in the image's journal or log
 * files, not in bake's stdout/stderr, not in tags, not in /dev/shm. Nor is the build's SSH key:
 * not left in a temp folder, and an instance launched from the image with another key pair
 * refuses it.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  CreateKeyPairCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud } from '../../src/local-cloud/index.js';
import { bake, bakeEnv, ROOTFS_CACHE, temporaryBakery, withLocalCloud } from './local-bakery.js';
import { sshArgs } from '../local-cloud/instances.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Finds files under dir whose bytes contain needle (grep -r, binary files included). */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const run = await execa('grep', ['-rlsF', '--devices=skip', needle, dir], { reject: false });
  return run.stdout.split('\n').filter(Boolean);
}

/** Every regular file under dir (find: links and devices, such as overlay whiteouts, left out). */
async function regularFiles(dir: string, name: string): Promise<string[]> {
  const run = await execa('find', [dir, '-type', 'f', '-name', name], { reject: false });
  return run.stdout.split('\n').filter(Boolean);
}

/** The image's journal, read by journalctl itself (compressed fields included), every field of every entry. */
async function journalText(journalFiles: string[]): Promise<string> {
  if (journalFiles.length === 0) return '';
  const run = await execa(
    'journalctl',
    [...journalFiles.map((file) => `--file=${file}`), '--no-pager', '--all', '-o', 'json'],
    { reject: false },
  );
  return run.stdout;
}

const envCanary = `canary-env-${Date.now()}-Zq7`;
const ssmCanary = `canary-ssm-${Date.now()}-Wx3`;

/** In front of the real ansible-playbook on PATH: keeps a copy of the SSH private key Packer hands Ansible. */
function keyCatcher(dir: string, copy: string): string {
  const real = execaSyncWhich('ansible-playbook');
  const script = `#!/bin/sh
# Test stand-in: copies the private key Packer passes (-e ansible_ssh_private_key_file=… or --private-key …).
prev=
for arg in "$@"; do
  case "$arg" in ansible_ssh_private_key_file=*) key=\${arg#ansible_ssh_private_key_file=} ;; esac
  [ "$prev" = --private-key ] && key=$arg
  prev=$arg
done
[ -n "\${key:-}" ] && cp -- "$key" ${JSON.stringify(copy)} && printf '%s\\n' "$key" > ${JSON.stringify(`${copy}.path`)}
exec ${JSON.stringify(real)} "$@"
`;
  writeFileSync(path.join(dir, 'ansible-playbook'), script, { mode: 0o755 });
  return dir;
}

function execaSyncWhich(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not on PATH`);
}

describe('bake build --local with build-time secrets', () => {
  let dir: string;
  let stateDir: string;
  let build: { exitCode?: number; stdout: string; all: string };
  let report: { recipes: Array<{ status: string; amis: Record<string, string>; log: string }> };
  let buildKey: string;
  let started: number;

  beforeAll(async () => {
    const files: Record<string, string> = {
      'bake.config.yaml': 'regions: [us-east-1]\nencrypted: false\n',
      'recipes/vault.yaml': [
        'name: vault',
        'base: { ssm: /aws/service/debian/release/12/latest/amd64 }',
        'roles: [canary]',
        'secrets:',
        '  repo_token: { env: CANARY_REPO_TOKEN }',
        '  db_password: { ssm: /bakery/db_password }',
        'verify:',
        '  - file: /etc/canary/repo_token.sha256',
        '',
      ].join('\n'),
      'roles/canary/tasks/main.yml': [
        '- ansible.builtin.file: { path: /etc/canary, state: directory, mode: "0755" }',
        '- ansible.builtin.copy: { content: "{{ repo_token | hash(\'sha256\') }}", dest: /etc/canary/repo_token.sha256, mode: "0644" }',
        '- ansible.builtin.copy: { content: "{{ db_password | hash(\'sha256\') }}", dest: /etc/canary/db_password.sha256, mode: "0644" }',
        '# A careless role: bake must mask what it prints.',
        '- ansible.builtin.debug: { msg: "token is {{ repo_token }} and password {{ db_password }}" }',
        '# The secret on a command line, as the docs intend roles to use it (Ansible logs module arguments on the target).',
        '- ansible.builtin.command: { argv: [test, -n, "{{ repo_token }}"] }',
        '  changed_when: false',
        '# A service that logs what it was given: through syslog into the journal, and into a file of its own.',
        "- ansible.builtin.shell: \"logger -t canary-service 'password {{ db_password }}'; echo 'token {{ repo_token }}' >> /var/log/canary-service.log\"",
        '  no_log: true',
        '',
      ].join('\n'),
    };
    dir = await temporaryBakery('bake-e2e-secrets-', { files, git: false });
    stateDir = path.join(dir, '.bake', 'local');
    await withLocalCloud(stateDir, async (_ec2, cloud) => {
      const ssm = new SSMClient({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: cloud.credentials });
      await ssm.send(new PutParameterCommand({ Name: '/bakery/db_password', Value: ssmCanary, Type: 'SecureString' }));
      ssm.destroy();
    });

    const shims = path.join(dir, 'test-shims');
    await mkdir(shims);
    buildKey = path.join(dir, 'build-key-copy');
    keyCatcher(shims, buildKey);
    const env = bakeEnv({ CANARY_REPO_TOKEN: envCanary, PATH: `${shims}:${process.env.PATH}` });
    started = Date.now();
    build = await execa(
      'node',
      [bake, 'build', '--local', '--dir', dir, '--json', '--junit', path.join(dir, 'junit.xml')],
      { env, reject: false, all: true },
    );
    expect(build.exitCode, build.all.slice(-3000)).toBe(0);
    report = JSON.parse(build.stdout) as typeof report;
    expect(report.recipes[0].status).toBe('built');
  });

  const imageRoots = () =>
    readdirSync(path.join(stateDir, 'images')).map((entry) => path.join(stateDir, 'images', entry));

  it('hands the roles both canaries and leaves them nowhere', async () => {
    // The roles got the values: their digests are in the image.
    const ami = report.recipes[0].amis['us-east-1'];
    const roots = imageRoots();
    const digestFiles = (await Promise.all(roots.map((root) => filesContaining(root, sha256(envCanary))))).flat();
    expect(
      digestFiles.some((file) => file.endsWith('/etc/canary/repo_token.sha256')),
      `${ami}: ${roots.join(', ')}`,
    ).toBe(true);
    expect(
      (await Promise.all(roots.map((root) => filesContaining(root, sha256(ssmCanary))))).flat().length,
    ).toBeGreaterThan(0);

    // The careless debug line was masked where it entered bake.
    const log = await readFile(report.recipes[0].log, 'utf8');
    expect(log).toContain('token is ******** and password ********');

    for (const canary of [envCanary, ssmCanary]) {
      expect(build.all).not.toContain(canary);
      expect(await filesContaining(dir, canary)).toEqual([]);
      expect(existsSync('/dev/shm') ? await filesContaining('/dev/shm', canary) : []).toEqual([]);
    }
    const privateDir = `/dev/shm/bake-${process.getuid!()}`;
    if (existsSync(privateDir))
      expect(
        readdirSync(privateDir).filter((entry) => entry.startsWith('secrets.') || entry.startsWith('packer.')),
      ).toEqual([]);

    await withLocalCloud(stateDir, async (ec2) => {
      const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }))).Images!;
      const described = JSON.stringify(image);
      expect(described).not.toContain(envCanary);
      expect(described).not.toContain(ssmCanary);
    });
  });

  it("keeps both canaries out of the image's journal and every log file, though the role logged them", async () => {
    const roots = imageRoots();
    const journals = (await Promise.all(roots.map((root) => regularFiles(root, '*.journal*')))).flat();
    // The image has a persistent journal (as Debian's AMIs do): what was logged after the cleanup is in it.
    expect(journals.length, roots.join(', ')).toBeGreaterThan(0);
    const journal = await journalText(journals);
    // What was logged after the cleanup is still read (the capture's own shutdown, for one).
    expect(journal).toContain('"MESSAGE"');
    for (const canary of [envCanary, ssmCanary]) {
      expect(journal).not.toContain(canary);
      for (const root of roots) expect(await filesContaining(path.join(root, 'var/log'), canary)).toEqual([]);
    }
    // The role's own log file is still there for its service, empty.
    const serviceLogs = (await Promise.all(roots.map((root) => regularFiles(root, 'canary-service.log')))).flat();
    expect(serviceLogs.length).toBeGreaterThan(0);
    for (const file of serviceLogs) expect(statSync(file).size).toBe(0);
  });

  it('leaves the build key in no temp folder, and an instance launched from the image with another key pair refuses it', async () => {
    // The stand-in saw the key Packer handed Ansible; that file is gone, and no new ansible-key in /tmp holds it.
    expect(existsSync(buildKey), 'Packer passed Ansible no private key file').toBe(true);
    const keyText = readFileSync(buildKey, 'utf8');
    const keyPath = readFileSync(`${buildKey}.path`, 'utf8').trim();
    expect(existsSync(keyPath), keyPath).toBe(false);
    const leftovers = readdirSync(tmpdir())
      .filter((name) => name.startsWith('ansible-key'))
      .map((name) => path.join(tmpdir(), name))
      .filter((file) => statSync(file).mtimeMs >= started - 1000)
      .filter((file) => readFileSync(file, 'utf8') === keyText);
    expect(leftovers).toEqual([]);
    chmodSync(buildKey, 0o600);
    const buildPublic = (await execa('ssh-keygen', ['-y', '-f', buildKey])).stdout
      .trim()
      .split(' ')
      .slice(0, 2)
      .join(' ');

    process.env.BAKE_ROOTFS_CACHE ??= ROOTFS_CACHE;
    const cloud = await startLocalCloud({ stateDir });
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: cloud.credentials });
    try {
      const { KeyMaterial } = await ec2.send(new CreateKeyPairCommand({ KeyName: 'after-bake', KeyType: 'ed25519' }));
      const otherKey = path.join(dir, 'after-bake.key');
      writeFileSync(otherKey, KeyMaterial!, { mode: 0o600 });
      const ami = report.recipes[0].amis['us-east-1'];
      const run = await ec2.send(
        new RunInstancesCommand({ ImageId: ami, KeyName: 'after-bake', MinCount: 1, MaxCount: 1 }),
      );
      const instanceId = run.Instances![0].InstanceId!;
      try {
        await waitUntilInstanceRunning(
          { client: ec2, maxWaitTime: 600, minDelay: 1, maxDelay: 2 },
          { InstanceIds: [instanceId] },
        );
        const [instance] = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })))
          .Reservations![0].Instances!;
        const endpoint = { ip: instance.PublicIpAddress!, sshPort: 22 };
        const ssh = (key: string, user: string, command: string) =>
          execa('ssh', ['-o', 'IdentitiesOnly=yes', ...sshArgs(key, endpoint, user), command], {
            reject: false,
            all: true,
          });
        // The instance's own key pair works for its login user once cloud-init has put it in place.
        let own = await ssh(
          otherKey,
          'admin',
          'sudo -n cat /home/admin/.ssh/authorized_keys /root/.ssh/authorized_keys',
        );
        for (let i = 0; own.exitCode !== 0 && i < 60; i++) {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          own = await ssh(otherKey, 'admin', 'sudo -n cat /home/admin/.ssh/authorized_keys /root/.ssh/authorized_keys');
        }
        expect(own.exitCode, own.all).toBe(0);
        expect(own.stdout).not.toContain(buildPublic.split(' ')[1]);
        for (const user of ['admin', 'root']) {
          const refused = await ssh(buildKey, user, 'true');
          expect(refused.exitCode, `${user}: ${refused.all}`).toBe(255);
          expect(refused.all).toContain('Permission denied');
        }
      } finally {
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
        await waitUntilInstanceTerminated(
          { client: ec2, maxWaitTime: 300, minDelay: 1, maxDelay: 2 },
          { InstanceIds: [instanceId] },
        );
      }
    } finally {
      ec2.destroy();
      await cloud.close();
    }
  });
});
