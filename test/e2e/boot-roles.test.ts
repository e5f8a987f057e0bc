/**
 * `boot:` roles for real: `bake build --local` (real Packer 1.6.6, real Ansible) bakes the boot
 * roles, their playbook, Ansible and the cloud-init per-instance script into the image. Then an
 * instance of that image boots with a stack's user-data: cloud-init runs the script at first
 * boot, and the role's output carries the user-data's variables.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateKeyPairCommand, DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand, waitUntilInstanceRunning } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { startLocalCloud } from '../../src/local-cloud/index.js';

const repo = path.resolve(__dirname, '../..');
const bake = path.join(repo, 'bin/bake.js');

describe('bake build --local with boot roles', () => {
  it('bakes the roles for first boot, and an instance runs them with its user-data variables', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-e2e-boot-'));
    const files: Record<string, string> = {
      'bake.config.yaml': 'regions: [us-east-1]\nencrypted: false\n',
      'recipes/app.yaml': [
        'name: app',
        'base: { ssm: /aws/service/debian/release/12/latest/amd64 }',
        'roles: [app_config]',
        'boot:',
        '  roles: [app_config]',
        '  vars_from_user_data: true',
        'verify:',
        '  - file: /var/lib/cloud/scripts/per-instance/bake-boot',
        '  - file: /opt/bake/boot/roles/app_config/tasks/main.yml',
        '  - command: ansible-playbook --version',
        '  - file: /etc/app.conf',
        '    contains: env=baked',
        '',
      ].join('\n'),
      'roles/app_config/defaults/main.yml': 'app_env: baked\n',
      'roles/app_config/tasks/main.yml': '- ansible.builtin.copy: { content: "env={{ app_env }}\\n", dest: /etc/app.conf, mode: "0644" }\n',
    };
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), content);
    }
    const env = { ...process.env, CI: 'true', BAKE_ROOTFS_CACHE: process.env.BAKE_ROOTFS_CACHE ?? path.join(repo, '.bake/test-cache') };
    const build = await execa('node', [bake, 'build', '--local', '--dir', dir, '--json'], { env, reject: false, all: true });
    expect(build.exitCode, build.all.slice(-4000)).toBe(0);
    const ami = (JSON.parse(build.stdout) as { recipes: Array<{ amis: Record<string, string> }> }).recipes[0].amis['us-east-1'];

    const cloud = await startLocalCloud({ stateDir: path.join(dir, '.bake', 'local') });
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: { accessKeyId: cloud.env.AWS_ACCESS_KEY_ID, secretAccessKey: cloud.env.AWS_SECRET_ACCESS_KEY } });
    try {
      const { KeyMaterial } = await ec2.send(new CreateKeyPairCommand({ KeyName: 'boot-check' }));
      const keyFile = path.join(dir, 'boot-check.pem');
      writeFileSync(keyFile, KeyMaterial!);
      chmodSync(keyFile, 0o600);
      // A stack's user-data: cloud-init (NoCloud seed in the local cloud) runs the per-instance script at first boot.
      const userData = ['#cloud-config', 'bake_vars:', '  app_env: "launch-test {{ not templated }}"', ''].join('\n');
      const run = await ec2.send(
        new RunInstancesCommand({ ImageId: ami, KeyName: 'boot-check', MinCount: 1, MaxCount: 1, UserData: Buffer.from(userData).toString('base64') }),
      );
      const instanceId = run.Instances![0].InstanceId!;
      await waitUntilInstanceRunning({ client: ec2, maxWaitTime: 600, minDelay: 1, maxDelay: 3 }, { InstanceIds: [instanceId] });
      const [instance] = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0].Instances!;
      const ssh = (command: string) =>
        execa('ssh', ['-i', keyFile, '-p', String(cloud.sshPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', `root@${instance.PublicIpAddress}`, command], { reject: false, all: true });
      const booted = await ssh('cloud-init status --wait >/dev/null; cat /var/log/bake-boot.log; cat /etc/app.conf');
      expect(booted.exitCode, booted.all).toBe(0);
      expect(booted.stdout).toContain('bake-boot: ');
      expect(booted.stdout.trim().split('\n').pop()).toBe('env=launch-test {{ not templated }}');
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    } finally {
      ec2.destroy();
      await cloud.close();
    }
  });
});
