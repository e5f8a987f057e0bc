/**
 * `bake verify` as a role author types it: the built CLI (bin/bake.js → dist, built by
 * `npm test`), a real chroot instance, a real ansible-playbook. Uses the one-recipe chain
 * (parent) to stay quick; test/verify/verify-instance.test.ts covers the parent → child chain.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseRootfs } from '../../src/local-cloud/rootfs.js';
import { networksClaimedBy, processesUsing, testRootfsCache } from '../local-cloud/instances.js';
import { parseJsonOutput } from '../schema/json-schemas.js';

const bake = path.resolve('bin/bake.js');
const fixture = path.resolve('test/fixtures/verify/bakery');
const cache = testRootfsCache();
const root = mkdtempSync(path.join(tmpdir(), 'bake-cli-verify-'));
const stateDir = path.join(root, '.bake', 'verify', 'parent');
const env = { BAKE_ROOTFS_CACHE: cache, CI: 'true' };

const verify = (...args: string[]) =>
  execa(process.execPath, [bake, 'verify', '--dir', root, ...args], { env, reject: false });

/** Processes may take a moment to be reaped after the command returns. */
async function leftoverProcesses(dir: string): Promise<string[]> {
  for (let i = 0; i < 40 && processesUsing(dir).length > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 50));
  return processesUsing(dir);
}

beforeAll(async () => {
  cpSync(fixture, root, { recursive: true });
  await ensureBaseRootfs({ cacheDir: cache });
}, 900_000);

afterAll(async () => {
  await verify('--destroy');
  rmSync(root, { recursive: true, force: true });
});

// Nothing here starts an instance: the refusals run side by side.
describe.concurrent('bake verify refuses at once, in one line', () => {
  it('without a recipe name, listing the recipes', async () => {
    const result = await verify();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('name the recipes to verify (each gets a kept instance): child, parent');
  });

  it('an unknown recipe', async () => {
    const result = await verify('nope');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('unknown recipe nope (this bakery has: child, parent)');
  });

  it('when ansible-playbook is not installed', async () => {
    const result = await execa(process.execPath, [bake, 'verify', 'parent', '--dir', root], {
      env: { ...env, PATH: '/nonexistent' },
      extendEnv: false,
      reject: false,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      'ansible-playbook not found on PATH: bake verify runs the roles with it; install ansible-core (scripts/setup.sh does)',
    );
  });

  it('when not run as root', async () => {
    const result = await execa(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        bake,
        'verify',
        'parent',
        '--dir',
        fixture,
      ],
      { env, reject: false },
    );
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      'bake verify needs root (its local instance is a chroot with its own sshd); run bake as root or in a container',
    );
  });

  it('--destroy with --fresh', async () => {
    const result = await verify('parent', '--destroy', '--fresh');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('--destroy removes instances; it takes neither --fresh nor --idempotence');
  });
});

describe('bake verify RECIPE', () => {
  it('exits 0 with --json reporting each check, the changed counts and durations; progress on stderr', async () => {
    // The pid is the subprocess's: execa's result no longer has it once the run is over.
    const run = verify('parent', '--json');
    const result = await run;
    expect(result.exitCode, result.stderr).toBe(0);
    const report = parseJsonOutput('verify', result.stdout) as { recipes: Record<string, any>[] };
    expect(report.recipes).toHaveLength(1);
    const [parent] = report.recipes;
    expect(parent).toMatchObject({
      name: 'parent',
      status: 'passed',
      chain: ['parent'],
      instance: { created: true, state_dir: stateDir },
    });
    // motd and the cloud-init file; /etc/cloud/cloud.cfg.d is already there (cloud-init is in the base).
    expect(parent.provision).toMatchObject([{ recipe: 'parent', status: 'ok', changed: 2 }]);
    expect(parent.provision[0].duration_s).toBeGreaterThan(0);
    expect(parent.checks).toMatchObject([
      { check: 'file /etc/motd contains "parent recipe"', kind: 'file', status: 'passed' },
    ]);
    expect(result.stderr).toMatch(/parent: provisioning parent \(motd\)/);
    expect(result.stderr).toMatch(/parent:\s+changed: motd : Message of the day/);
    expect(await leftoverProcesses(stateDir)).toEqual([]);
    expect(networksClaimedBy(run.pid!)).toEqual([]);
  });

  it('exits 1 naming the failed check, and warns about what the recipe no longer provisions', async () => {
    const recipe = path.join(root, 'recipes', 'parent.yaml');
    const text = readFileSync(recipe, 'utf8');
    writeFileSync(
      recipe,
      text
        .replace(/cloud_init:\n(?: .*\n)+/, '')
        .replace('verify:\n', 'verify:\n  - file: /etc/app-that-is-not-there.conf\n'),
    );
    const result = await verify('parent');
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/parent: FAILED in [\d.]+ s — provisioned parent \(0 changed\); 1\/2 checks passed/);
    expect(result.stdout).toMatch(
      new RegExp(`FAILED file exists: /etc/app-that-is-not-there.conf  \\(${recipe}:9:5\\)`),
    );
    expect(result.stderr).toMatch(
      /still on the instance from an earlier run: cloud-init file 90-bake-parent-1-parent.cfg \(use --fresh to start clean\)/,
    );
    writeFileSync(recipe, text);
  });

  it('--fresh throws the kept filesystem away and provisions a new one from the base', async () => {
    // The instance's own layer: what was changed in it, while it is powered off.
    const changes = path.join(stateDir, 'instances', 'parent', 'upper');
    writeFileSync(path.join(changes, 'etc', 'left-by-hand'), 'a snowflake\n');
    const result = await verify('parent', '--fresh', '--json');
    expect(result.exitCode, result.stderr).toBe(0);
    const [parent] = parseJsonOutput('verify', result.stdout).recipes;
    expect(parent).toMatchObject({ status: 'passed', instance: { created: true }, leftovers: [] });
    expect(parent.provision[0].changed).toBe(2);
    expect(existsSync(path.join(changes, 'etc', 'left-by-hand'))).toBe(false);
    expect(existsSync(path.join(changes, 'etc', 'motd'))).toBe(true);
  });

  it('on SIGINT stops Ansible and the instance, exits 1, and leaves no process behind', async () => {
    const run = verify('parent', '--json');
    let stderr = '';
    run.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 60_000;
    while (!stderr.includes('provisioning parent')) {
      if (Date.now() > deadline) throw new Error(`provisioning never started: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // In the middle of ansible-playbook's run.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    run.kill('SIGINT');
    const result = await run;
    expect(result.exitCode).toBe(1);
    expect(stderr).toContain('SIGINT received: stopping Ansible and the instance');
    expect(parseJsonOutput('verify', result.stdout).recipes[0].status).toBe('interrupted');
    expect(await leftoverProcesses(stateDir)).toEqual([]);
    expect(networksClaimedBy(run.pid!)).toEqual([]);
  });

  it('--destroy removes the kept instance and its state, and leaves no process', async () => {
    const run = verify('--destroy', '--json');
    const result = await run;
    expect(result.exitCode).toBe(0);
    expect(parseJsonOutput('verify', result.stdout)).toEqual({ destroyed: ['parent'] });
    expect(existsSync(stateDir)).toBe(false);
    expect(await leftoverProcesses(stateDir)).toEqual([]);
    expect(networksClaimedBy(run.pid!)).toEqual([]);
  });
});
