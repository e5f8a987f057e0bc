/**
 * Build-time secrets for real: `bake build --local` with real Packer 1.6.6 and real Ansible. The
 * role receives a canary secret from the environment and one from an SSM SecureString, writes
 * their digests into the image, and prints them (as roles sometimes do by mistake). Afterwards no
 * canary is anywhere: not in the bakery (work files, logs, JUnit, the local cloud's state and its
 * images' files), not in bake's stdout/stderr, not in tags, not in /dev/shm.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bake, bakeEnv, temporaryBakery, withLocalCloud } from './local-bakery.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Finds files under dir whose bytes contain needle (grep -r, binary files included). */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const run = await execa('grep', ['-rlsF', '--devices=skip', needle, dir], { reject: false });
  return run.stdout.split('\n').filter(Boolean);
}

describe('bake build --local with build-time secrets', () => {
  it('hands the roles both canaries and leaves them nowhere', async () => {
    const envCanary = `canary-env-${Date.now()}-Zq7`;
    const ssmCanary = `canary-ssm-${Date.now()}-Wx3`;
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
        '',
      ].join('\n'),
    };
    const dir = await temporaryBakery('bake-e2e-secrets-', { files, git: false });
    const stateDir = path.join(dir, '.bake', 'local');
    await withLocalCloud(stateDir, async (_ec2, cloud) => {
      const ssm = new SSMClient({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: cloud.credentials });
      await ssm.send(new PutParameterCommand({ Name: '/bakery/db_password', Value: ssmCanary, Type: 'SecureString' }));
      ssm.destroy();
    });

    const env = bakeEnv({ CANARY_REPO_TOKEN: envCanary });
    const build = await execa(
      'node',
      [bake, 'build', '--local', '--dir', dir, '--json', '--junit', path.join(dir, 'junit.xml')],
      { env, reject: false, all: true },
    );
    expect(build.exitCode, build.all.slice(-3000)).toBe(0);
    const report = JSON.parse(build.stdout) as {
      recipes: Array<{ status: string; amis: Record<string, string>; log: string }>;
    };
    expect(report.recipes[0].status).toBe('built');

    // The roles got the values: their digests are in the image.
    const ami = report.recipes[0].amis['us-east-1'];
    const imageRoots = readdirSync(path.join(stateDir, 'images')).map((entry) => path.join(stateDir, 'images', entry));
    const digestFiles = (await Promise.all(imageRoots.map((root) => filesContaining(root, sha256(envCanary))))).flat();
    expect(
      digestFiles.some((file) => file.endsWith('/etc/canary/repo_token.sha256')),
      `${ami}: ${imageRoots.join(', ')}`,
    ).toBe(true);
    expect(
      (await Promise.all(imageRoots.map((root) => filesContaining(root, sha256(ssmCanary))))).flat().length,
    ).toBeGreaterThan(0);

    // The careless debug line was masked where it entered bake.
    const log = await readFile(report.recipes[0].log, 'utf8');
    expect(log).toContain('token is ******** and password ********');

    for (const canary of [envCanary, ssmCanary]) {
      expect(build.all).not.toContain(canary);
      expect(await filesContaining(dir, canary)).toEqual([]);
      expect(existsSync('/dev/shm') ? await filesContaining('/dev/shm', canary) : []).toEqual([]);
    }
    expect(readdirSync('/dev/shm').filter((entry) => entry.startsWith(`bake-secrets-`))).toEqual([]);

    await withLocalCloud(stateDir, async (ec2) => {
      const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }))).Images!;
      const described = JSON.stringify(image);
      expect(described).not.toContain(envCanary);
      expect(described).not.toContain(ssmCanary);
    });
  });
});
