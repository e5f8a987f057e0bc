/**
 * Launch tests that fail, for real: `bake build --local` bakes a small image with Packer, boots it
 * with the recipe's user-data in the local cloud and checks it. A cloud-init error and a service
 * that is not running each fail the build, keep the image out of tfvars and make the plan want to
 * rebuild it; an interrupt during the launch test leaves no instance, process, mount or namespace.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { mountsUnder } from '../../src/local-cloud/rootfs.js';
import { processesUsing } from '../local-cloud/instances.js';
import { bake, bakeEnv, repo, temporaryBakery } from './local-bakery.js';

const fixture = path.join(repo, 'test/fixtures/launch-test/bakery');
const env = bakeEnv();

interface Report {
  recipes: Array<{
    name: string;
    status: string;
    error?: string;
    log?: string;
    launch_test?: {
      status: string;
      cloud_init: { status: string; output: string };
      checks: Array<{ check: string; status: string; output: string }>;
      cleanup_problems: string[];
    };
  }>;
}

const bakery = () => temporaryBakery('bake-launch-e2e-', { copy: fixture });

/** The user-data's one command (its `vars`), as a recipe author would change it. */
async function userDataCommand(dir: string, command: string): Promise<void> {
  const file = path.join(dir, 'recipes/app.yaml');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(/vars: \{ command: .* \}/, `vars: { command: ${JSON.stringify(command)} }`));
}

/** Everything a launch test makes, as the local cloud's state records it, that is still there. */
async function leftovers(dir: string): Promise<string[]> {
  const state = JSON.parse(await readFile(path.join(dir, '.bake/local/state.json'), 'utf8')) as {
    instances: Array<{ instanceId: string; state: string }>;
    securityGroups: Array<{ groupName: string }>;
    keyPairs: Array<{ keyName: string }>;
  };
  const instances = await readdir(path.join(dir, '.bake/local/instances')).catch(() => [] as string[]);
  return [
    ...state.instances.filter((i) => i.state !== 'terminated').map((i) => `instance ${i.instanceId} ${i.state}`),
    ...state.securityGroups
      .filter((g) => g.groupName.startsWith('bake-launch-test-'))
      .map((g) => `security group ${g.groupName}`),
    ...state.keyPairs.filter((k) => k.keyName.startsWith('bake-launch-test-')).map((k) => `key pair ${k.keyName}`),
    ...instances.filter((name) => !name.startsWith('.')).map((name) => `instance directory ${name}`),
    ...processesUsing(dir),
    ...(await mountsUnder(dir)),
  ];
}

async function build(dir: string): Promise<{ exitCode: number | undefined; stderr: string; report: Report }> {
  const run = await execa('node', [bake, 'build', '--local', '--dir', dir, '--json'], { env, reject: false });
  return { exitCode: run.exitCode, stderr: run.stderr, report: JSON.parse(run.stdout || '{"recipes":[]}') as Report };
}

async function planReasons(dir: string): Promise<string[]> {
  const run = await execa('node', [bake, 'plan', '--local', '--dir', dir, '--json'], { env, reject: false });
  expect(run.exitCode, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { recipes: Array<{ action: string; reasons: string[] }> }).recipes.flatMap((r) => [
    r.action,
    ...r.reasons,
  ]);
}

describe('launch tests that fail, on the local cloud', () => {
  it('fails the build on a cloud-init error and on a service that does not run; neither image is pinned, both are rebuilt', async () => {
    const dir = await bakery();
    const tfvars = await readFile(path.join(dir, 'infra/amis.auto.tfvars'), 'utf8');

    // user-data whose runcmd fails: cloud-init reports an error, and its log lines are shown.
    const broken = await build(dir);
    expect(broken.exitCode, broken.stderr.slice(-3000)).toBe(1);
    const app = broken.report.recipes[0];
    expect(app).toMatchObject({ name: 'app', status: 'failed' });
    expect(app.error).toMatch(/^cloud-init reported an error on i-\w+$/);
    expect(app.launch_test).toMatchObject({
      status: 'failed',
      cloud_init: { status: 'error' },
      checks: [],
      cleanup_problems: [],
    });
    expect(app.launch_test!.cloud_init.output).toMatch(/status: error/);
    expect(await readFile(app.log!, 'utf8')).toMatch(/# bake: launch test:\s+.*(runcmd|scripts-user|scripts_user)/);
    expect(await readFile(path.join(dir, 'infra/amis.auto.tfvars'), 'utf8')).toBe(tfvars);
    const failedAmi = /tagged (ami-\w+) bake:launch-test=failed/.exec(await readFile(app.log!, 'utf8'))![1];
    expect(await planReasons(dir)).toEqual([
      'build',
      `image ${failedAmi} with this fingerprint failed its launch test`,
    ]);
    expect(await leftovers(dir)).toEqual([]);

    // cloud-init succeeds now; the role's service is enabled but exits at once: not active.
    await userDataCommand(dir, 'true');
    const notRunning = await build(dir);
    expect(notRunning.exitCode, notRunning.stderr.slice(-3000)).toBe(1);
    const test = notRunning.report.recipes[0].launch_test!;
    expect(test).toMatchObject({ status: 'failed', cloud_init: { status: 'done' } });
    expect(test.checks.map((c) => [c.check, c.status])).toEqual([['service running: app', 'failed']]);
    expect(test.checks[0].output).toMatch(/not active|failed|inactive/);
    expect(await readFile(path.join(dir, 'infra/amis.auto.tfvars'), 'utf8')).toBe(tfvars);
    expect((await planReasons(dir))[1]).toMatch(/^image ami-\w+ with this fingerprint failed its launch test$/);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('an interrupt during the launch test terminates its instance and leaves nothing behind', async () => {
    const dir = await bakery();
    // cloud-init is still running its command when bake is interrupted.
    await userDataCommand(dir, 'sleep 900');
    const run = execa('node', [bake, 'build', '--local', '--dir', dir], { env, reject: false });
    let exited = false;
    void run.finally(() => (exited = true));
    const deadline = Date.now() + 20 * 60_000;
    const logText = async () => {
      const runs = await readdir(path.join(dir, '.bake/logs')).catch(() => [] as string[]);
      return (
        await Promise.all(runs.map((r) => readFile(path.join(dir, '.bake/logs', r, 'app.log'), 'utf8').catch(() => '')))
      ).join('');
    };
    while (!(await logText()).includes('waiting for cloud-init')) {
      if (Date.now() > deadline || exited)
        throw new Error(`the launch test never started:\n${(await logText()).slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    run.kill('SIGINT');
    const result = await run;
    expect(result.exitCode, result.stderr.slice(-2000)).toBe(1);
    expect(result.stderr).toContain('SIGINT received');
    expect(await logText()).toMatch(/# bake: launch test: removing i-\w+, sg-\w+, bake-launch-test-app-\w+/);
    expect(await leftovers(dir)).toEqual([]);
    expect((await planReasons(dir))[1]).toMatch(/^image ami-\w+ with this fingerprint has no finished launch test$/);
  });
});
