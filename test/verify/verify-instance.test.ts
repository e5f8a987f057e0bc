/**
 * bake verify's core against the real thing: a booted instance of the local cloud with its own
 * sshd, a real ansible-playbook, the verify script over real ssh. One kept instance is carried
 * through the whole file, as a role author would use it. (--fresh, --json, SIGINT and the
 * one-line errors are in cli-verify.test.ts.)
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseRootfs } from '../../src/local-cloud/rootfs.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import {
  destroyVerifyInstances,
  productionVerifyDeps,
  verifyRecipe,
  verifyStateDir,
  type VerifyReport,
} from '../../src/verify/verify-recipe.js';
import { networksClaimedBy, processesUsing, testRootfsCache } from '../local-cloud/instances.js';

const fixture = path.join(import.meta.dirname, '../fixtures/verify/bakery');
const cache = testRootfsCache();
// Under /tmp on purpose: the boot host must cope with a world-writable parent.
const root = mkdtempSync(path.join(tmpdir(), 'bake-verify-instance-'));
const stateDir = verifyStateDir(root, 'child');
// What provisioning wrote: the instance's own layer, readable while it is powered off.
const changes = path.join(stateDir, 'instances', 'child', 'upper');
const deps = productionVerifyDeps({ bakeryRoot: root, rootfsCache: cache });
const measured: Record<string, number> = {};

/**
 * Verify runs still going. A test that runs out of time fails, but its verify goes on holding the
 * instance: the next test waits for it rather than finding the instance busy.
 */
const running = new Set<Promise<unknown>>();

async function verifyChild(options: { fresh?: boolean; idempotence?: boolean } = {}): Promise<VerifyReport> {
  const bakery = await loadBakery(root);
  const run = verifyRecipe(
    bakery,
    bakery.recipes.find((r) => r.name === 'child')!,
    deps,
    options,
  );
  running.add(run);
  void run.finally(() => running.delete(run)).catch(() => undefined);
  return run;
}

afterEach(async () => {
  await Promise.allSettled([...running]);
});

function edit(file: string, from: string, to: string) {
  const full = path.join(root, file);
  const text = readFileSync(full, 'utf8');
  expect(text).toContain(from);
  writeFileSync(full, text.replace(from, to));
}

const changed = (report: VerifyReport) => Object.fromEntries(report.provision.map((run) => [run.recipe, run.changed]));

beforeAll(async () => {
  cpSync(fixture, root, { recursive: true });
  // The first run on a machine makes the debootstrap base (about a minute); later runs find it.
  await ensureBaseRootfs({ cacheDir: cache });
}, 900_000);

afterAll(async () => {
  await destroyVerifyInstances(root, [], deps).catch(() => undefined);
  console.log(`bake verify, measured (s): ${JSON.stringify(measured)}`);
  rmSync(root, { recursive: true, force: true });
});

describe('bake verify on a kept local instance', () => {
  let first: VerifyReport;

  it("provisions the parent's roles, then the child's, and passes the child's checks", async () => {
    first = await verifyChild();
    measured.first = first.duration_s;
    expect(first.status).toBe('passed');
    expect(first.instance.created).toBe(true);
    expect(first.chain).toEqual(['parent', 'child']);
    expect(first.provision.map((run) => run.status)).toEqual(['ok', 'ok']);
    // cloud-init, and so its drop-in directory, is in the base: only motd and the file change.
    expect(first.provision[0].changed_tasks).toEqual([
      'motd : Message of the day',
      'install cloud-init 90-bake-parent-1-parent.cfg',
    ]);
    expect(first.provision[1].changed_tasks).toContain('app : Configuration');
    expect(first.checks.map((check) => [check.check, check.status])).toEqual([
      ['file /etc/app/app.conf contains "port = 8080"', 'passed'],
      ['command: grep -q "parent recipe" /etc/motd', 'passed'],
      ['package installed: python3', 'passed'],
      ['service running: app', 'passed'],
      ['port listening: 8080', 'passed'],
    ]);
    // The cloud-init files land where Packer's playbook puts them.
    expect(readFileSync(path.join(changes, 'etc/cloud/cloud.cfg.d/90-bake-parent-1-parent.cfg'), 'utf8')).toContain(
      'timezone: "UTC"',
    );
    expect(JSON.parse(readFileSync(path.join(stateDir, 'provisioned.json'), 'utf8')).chain).toEqual([
      { recipe: 'parent', roles: ['motd'], cloudInitFiles: ['90-bake-parent-1-parent.cfg'] },
      { recipe: 'child', roles: ['app'], cloudInitFiles: [] },
    ]);
  });

  it('powers the instance off when it returns and keeps its filesystem', () => {
    expect(existsSync(path.join(changes, 'etc/app/app.conf'))).toBe(true);
    expect(processesUsing(stateDir)).toEqual([]);
  });

  it('runs again on the same filesystem, faster, and Ansible reports nothing changed', async () => {
    const again = await verifyChild();
    measured.rerun = again.duration_s;
    measured.firstReady = first.instance.ready_s;
    measured.rerunReady = again.instance.ready_s;
    expect(again.status).toBe('passed');
    expect(again.instance.created).toBe(false);
    expect(changed(again)).toEqual({ parent: 0, child: 0 });
    // (The run's time is only logged: on a shared machine it varies more than it saves.)
  });

  it('applies a one-line change to a role on the next run, and only that', async () => {
    edit('roles/app/templates/app.conf.j2', 'greeting = {{ app_greeting }}', 'greeting = {{ app_greeting }}, world');
    const report = await verifyChild();
    measured.oneLineChange = report.duration_s;
    expect(report.status).toBe('passed');
    // The changed configuration notifies the handler, which restarts the running app.
    expect(changed(report)).toEqual({ parent: 0, child: 2 });
    expect(report.provision[1].changed_tasks).toEqual(['app : Configuration', 'app : restart app']);
    expect(readFileSync(path.join(changes, 'etc/app/app.conf'), 'utf8')).toContain('greeting = hello, world');
  });

  it('with --idempotence, catches a role that changes something on every run', async () => {
    writeFileSync(
      path.join(root, 'roles/app/tasks/main.yml'),
      `${readFileSync(path.join(root, 'roles/app/tasks/main.yml'), 'utf8')}\n- name: Stamp the build\n  ansible.builtin.command: touch /etc/app/stamp\n`,
    );
    const report = await verifyChild({ idempotence: true });
    expect(report.status).toBe('failed');
    expect(report.idempotence).toMatchObject({
      passed: false,
      changed: 1,
      changed_tasks: ['child: app : Stamp the build'],
    });
    // The second run of the parent changed nothing: only the child's role is to blame.
    expect(report.idempotence!.stages.map((run) => [run.recipe, run.changed])).toEqual([
      ['parent', 0],
      ['child', 1],
    ]);
    expect(report.checks.every((check) => check.status !== 'failed')).toBe(true);
  });

  it('with --destroy, removes the instance and all its state, and nothing keeps running', async () => {
    expect(await destroyVerifyInstances(root, ['child'], deps)).toEqual(['child']);
    expect(existsSync(stateDir)).toBe(false);
    expect(processesUsing(stateDir)).toEqual([]);
    expect(networksClaimedBy(process.pid)).toEqual([]);
    expect(await destroyVerifyInstances(root, ['child'], deps)).toEqual([]);
  });
});
