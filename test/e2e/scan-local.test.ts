/**
 * The security freshness loop, end to end on the local cloud with the real Debian mirror (through
 * the apt proxy) and the test's own security suite (test/scan/security-repository.ts): bake three
 * images with `upgrade: security`, publish a newer probe package in the security suite, `bake scan`
 * finds it on the image that carries it, `bake plan` rebuilds exactly that recipe and its child with
 * the reason, the rebuild's launch test finds nothing pending, and the next plan reuses everything.
 * A scan that fails (the suite gone) or is interrupted leaves nothing behind.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountsUnder } from '../../src/local-cloud/rootfs.js';
import { processesUsing } from '../local-cloud/instances.js';
import { assertMatchesSchema } from '../schema/json-schemas.js';
import {
  PROBE_PACKAGE,
  probeRole,
  startSecurityRepository,
  type SecurityRepository,
} from '../scan/security-repository.js';
import { bake, bakeEnv, temporaryBakery } from './local-bakery.js';

let repository: SecurityRepository;
let dir: string;
let env: NodeJS.ProcessEnv;
const stamp = Date.now();
const oldVersion = `1.${stamp}`;
const fixedVersion = `${oldVersion}+deb12u1`;

interface ScanDocument {
  images: Array<{
    recipe: string;
    image: string;
    status: string;
    pending_count: number;
    pending: Array<{ package: string; installed: string; fixed: string }>;
    sbom_packages?: number;
    tagged: string[];
    error?: string;
    duration_s: number;
    cleanup_problems: string[];
  }>;
}
interface PlanDocument {
  recipes: Array<{
    name: string;
    action: string;
    reasons: string[];
    amis: Record<string, string>;
    security?: { state: string };
  }>;
}
interface BuildDocument {
  recipes: Array<{
    name: string;
    status: string;
    amis: Record<string, string>;
    launch_test?: {
      status: string;
      checks: Array<{ check: string; kind: string; status: string }>;
      security_scan?: { pending: unknown[] };
    };
  }>;
}

async function run(...args: string[]) {
  return execa('node', [bake, ...args, '--local', '--dir', dir, '--json'], { env, reject: false });
}

async function leftovers(): Promise<string[]> {
  const state = JSON.parse(await readFile(path.join(dir, '.bake/local/state.json'), 'utf8')) as {
    instances: Array<{ instanceId: string; state: string }>;
    securityGroups: Array<{ groupName: string }>;
    keyPairs: Array<{ keyName: string }>;
  };
  const instances = await readdir(path.join(dir, '.bake/local/instances')).catch(() => [] as string[]);
  return [
    ...state.instances.filter((i) => i.state !== 'terminated').map((i) => `instance ${i.instanceId} ${i.state}`),
    ...state.securityGroups.filter((g) => g.groupName !== 'default').map((g) => `security group ${g.groupName}`),
    ...state.keyPairs.filter((k) => !k.keyName.startsWith('bake-lock-')).map((k) => `key pair ${k.keyName}`),
    ...instances.filter((name) => !name.startsWith('.')).map((name) => `instance directory ${name}`),
    ...processesUsing(dir),
    ...(await mountsUnder(dir)),
  ];
}

beforeAll(async () => {
  repository = await startSecurityRepository();
  await repository.publish(oldVersion);
  env = bakeEnv({ BAKE_LOCAL_APT_REPOSITORIES: repository.url });
  const debianBase = 'base:\n  filter:\n    name: debian-12-amd64-*\n    owners: ["136693071363"]\n';
  dir = await temporaryBakery('bake-scan-e2e-', {
    files: {
      'bake.config.yaml': [
        'bakery: scan-e2e',
        'regions: [us-east-1]',
        'instance_type: t3.micro',
        'upgrade: security',
        'rebuild_on: [security]',
        '',
      ].join('\n'),
      'recipes/parent.yaml': `name: parent\ndescription: carries the probe package\n${debianBase}roles: [probe]\n`,
      'recipes/child.yaml': 'name: child\ndescription: built FROM parent\nbase: { recipe: parent }\nroles: [marker]\n',
      'recipes/other.yaml': `name: other\ndescription: no probe package\n${debianBase}roles: [marker]\n`,
      'roles/probe/tasks/main.yml': probeRole(repository.sourceLine),
      'roles/marker/tasks/main.yml':
        '- name: a marker\n  ansible.builtin.copy:\n    dest: /etc/bake-marker\n    content: "marker\\n"\n    mode: "0644"\n',
    },
  });
}, 60_000);

afterAll(async () => {
  await repository?.close();
});

describe('security freshness on the local cloud', () => {
  it('scan finds the fix, plan rebuilds that recipe and its child, the rebuild has nothing pending, the next plan reuses', async () => {
    const first = await run('build');
    expect(first.exitCode, first.stderr.slice(-3000)).toBe(0);
    const built = JSON.parse(first.stdout) as BuildDocument;
    for (const recipe of built.recipes) {
      expect(recipe.status).toBe('built');
      const check = recipe.launch_test?.checks.find((c) => c.kind === 'security-updates');
      expect(check?.status, recipe.name).toBe('passed');
    }

    await repository.publish(fixedVersion);
    const started = Date.now();
    const scan = await run('scan', 'parent', 'other', '--detailed-exitcode');
    const scanSeconds = (Date.now() - started) / 1000;
    expect(scan.exitCode, scan.stderr.slice(-3000)).toBe(2);
    const scanned = JSON.parse(scan.stdout) as ScanDocument;
    assertMatchesSchema('scan', scanned);
    const parent = scanned.images.find((i) => i.recipe === 'parent')!;
    expect(parent.status).toBe('scanned');
    expect(parent.pending).toContainEqual({ package: PROBE_PACKAGE, installed: oldVersion, fixed: fixedVersion });
    expect(parent.sbom_packages).toBeGreaterThan(50);
    expect(parent.tagged).toEqual([built.recipes.find((r) => r.name === 'parent')!.amis['us-east-1']]);
    const other = scanned.images.find((i) => i.recipe === 'other')!;
    expect(other.pending.map((p) => p.package)).not.toContain(PROBE_PACKAGE);
    console.log(
      `scan of 2 images: ${scanSeconds.toFixed(1)} s; per image ${scanned.images.map((i) => i.duration_s).join(', ')} s`,
    );
    expect(await leftovers()).toEqual([]);

    const plan = await run('plan');
    expect(plan.exitCode, plan.stderr).toBe(0);
    const planned = JSON.parse(plan.stdout) as PlanDocument;
    assertMatchesSchema('plan', planned);
    const action = (name: string) => planned.recipes.find((r) => r.name === name)!;
    expect(action('parent').action).toBe('build');
    expect(action('parent').reasons.join('\n')).toMatch(
      new RegExp(`^security updates pending since \\S+: .*${PROBE_PACKAGE} ${oldVersion.replace('.', '\\.')} → `, 'm'),
    );
    expect(action('child').action).toBe('build');
    expect(action('child').reasons).toContain('parent parent is rebuilt for its pending security updates');
    expect(action('other').action).toBe('reuse');

    const rebuild = await run('build');
    expect(rebuild.exitCode, rebuild.stderr.slice(-3000)).toBe(0);
    const rebuilt = JSON.parse(rebuild.stdout) as BuildDocument;
    const status = (name: string) => rebuilt.recipes.find((r) => r.name === name)!;
    expect(status('parent').status).toBe('built');
    expect(status('child').status).toBe('built');
    expect(status('other').status).toBe('reused');
    expect(status('parent').amis['us-east-1']).not.toBe(parent.image);
    expect(status('parent').launch_test?.security_scan?.pending).toEqual([]);

    const again = await run('plan');
    const replanned = JSON.parse(again.stdout) as PlanDocument;
    expect(Object.fromEntries(replanned.recipes.map((r) => [r.name, r.action]))).toEqual({
      parent: 'reuse',
      child: 'reuse',
      other: 'reuse',
    });
    expect(replanned.recipes.find((r) => r.name === 'parent')!.security?.state).toBe('fresh');
  }, 3_600_000);

  it('a scan that fails (the security suite gone) or is interrupted leaves nothing behind', async () => {
    // A bakery of its own: the first test's may have failed half way.
    const suite = await startSecurityRepository();
    await suite.publish(oldVersion);
    env = bakeEnv({ BAKE_LOCAL_APT_REPOSITORIES: suite.url });
    dir = await temporaryBakery('bake-scan-fail-e2e-', {
      files: {
        'bake.config.yaml': 'bakery: scan-fail-e2e\nregions: [us-east-1]\ninstance_type: t3.micro\n',
        'recipes/parent.yaml': `name: parent\ndescription: carries the probe package\nbase:\n  filter:\n    name: debian-12-amd64-*\n    owners: ["136693071363"]\nroles: [probe]\n`,
        'roles/probe/tasks/main.yml': probeRole(suite.sourceLine),
      },
    });
    const built = await run('build');
    expect(built.exitCode, built.stderr.slice(-3000)).toBe(0);
    await suite.close();
    const failed = await run('scan', 'parent');
    expect(failed.exitCode).toBe(1);
    const document = JSON.parse(failed.stdout) as ScanDocument;
    expect(document.images[0]!.status).toBe('failed');
    expect(document.images[0]!.error).toMatch(/package manager failed|update/);
    expect(await leftovers()).toEqual([]);

    const child = execa('node', [bake, 'scan', 'parent', '--local', '--dir', dir, '--json'], { env, reject: false });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for (let waited = 0; waited < 300_000 && !/is running at/.test(stderr); waited += 500)
      await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stderr).toMatch(/is running at/);
    child.kill('SIGINT');
    const interrupted = await child;
    expect(interrupted.exitCode).toBe(1);
    expect((JSON.parse(interrupted.stdout) as { interrupted: boolean }).interrupted).toBe(true);
    expect(await leftovers()).toEqual([]);
  }, 1_200_000);
});
