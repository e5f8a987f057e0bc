/**
 * `bake local-cloud`: one local cloud shared by several bake processes, as Jenkins agents share
 * one AWS account. A `--local` command started with its variables attaches instead of starting its own.
 */
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseJsonOutput } from '../schema/json-schemas.js';

const bake = path.resolve('bin/bake.js');
const work = await mkdtemp(path.join(tmpdir(), 'bake-local-cloud-cli-'));
afterAll(() => rm(work, { recursive: true, force: true }));

async function waitForFile(file: string, server: ReturnType<typeof execa>): Promise<string> {
  const until = Date.now() + 30_000;
  while (!existsSync(file)) {
    if (Date.now() > until || server.exitCode !== null)
      throw new Error(`no ${file}: ${(await server.catch((e) => e)).stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return readFile(file, 'utf8');
}

describe('bake local-cloud', () => {
  it('serves until SIGTERM, writes sh-quoted variables, and --local commands attach to it', async () => {
    const envFile = path.join(work, 'cloud.env');
    const server = execa('node', [bake, 'local-cloud', '--dir', path.join(work, 'cloud'), '--write-env', envFile], {
      reject: false,
      env: { CI: 'true' },
    });
    const text = await waitForFile(envFile, server);
    const env = Object.fromEntries([...text.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
    expect(env).toMatchObject({
      BAKE_LOCAL_CLOUD_ENDPOINT: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      BAKE_LOCAL_CLOUD_SSH_PORT: expect.stringMatching(/^\d+$/),
    });
    expect(env.AWS_ENDPOINT_URL_EC2).toBe(env.BAKE_LOCAL_CLOUD_ENDPOINT);
    // The credentials are in the file, readable by this user only, and the same as in the state dir.
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const credentials = JSON.parse(
      await readFile(path.join(work, 'cloud', '.bake', 'local', 'credentials.json'), 'utf8'),
    );
    expect(env).toMatchObject({
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    });

    // Two bakeries at once against the one cloud: neither starts (nor locks) a cloud of its own.
    const bakeries = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const dir = path.join(work, name);
        await cp(path.resolve('test/fixtures/pipeline/cli-bakery'), dir, { recursive: true });
        return dir;
      }),
    );
    const plans = await Promise.all(
      bakeries.map((dir) =>
        execa('node', [bake, 'plan', '--local', '--dir', dir, '--json'], {
          reject: false,
          env: { ...env, CI: 'true' },
        }),
      ),
    );
    for (const [i, plan] of plans.entries()) {
      expect(plan.exitCode, plan.stderr).toBe(0);
      expect(
        parseJsonOutput('plan', plan.stdout).recipes.map(
          (r: { name: string; action: string }) => `${r.name} ${r.action}`,
        ),
      ).toEqual(['base build', 'web build']);
      expect(existsSync(path.join(bakeries[i], '.bake', 'local'))).toBe(false);
    }

    // Without the variables (or with the old well-known key) nothing gets in.
    const stranger = await execa('node', [bake, 'plan', '--local', '--dir', bakeries[0]], {
      reject: false,
      env: { ...env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', CI: 'true' },
    });
    expect(stranger.exitCode).toBe(1);
    expect(stranger.stderr).toMatch(/AuthFailure|not able to validate/);

    server.kill('SIGTERM');
    const stopped = await server;
    expect(stopped.exitCode).toBe(0);
    expect(stopped.stderr).toContain('local cloud at http://127.0.0.1:');
    // stdout (often a build log) shows the variables but never the secret.
    expect(stopped.stdout).toContain(`export AWS_ACCESS_KEY_ID='${credentials.accessKeyId}'`);
    expect(stopped.stdout + stopped.stderr).not.toContain(credentials.secretAccessKey);

    // The variables name a cloud that is gone: the file goes with it, and a command still holding them says so in one line.
    expect(existsSync(envFile)).toBe(false);
    expect(env.BAKE_LOCAL_CLOUD_PROCESS).toMatch(/^\d+/);
    const stale = await execa('node', [bake, 'plan', '--local', '--dir', bakeries[0]], {
      reject: false,
      env: { ...env, CI: 'true' },
    });
    expect(stale.exitCode).toBe(1);
    expect(stale.stderr.trim()).toBe(
      `the local cloud at ${env.BAKE_LOCAL_CLOUD_ENDPOINT} has stopped (its process ${server.pid} is gone): start bake local-cloud again and use the variables it prints`,
    );
  });

  it('with --json prints the endpoint, the variables but the secret, and the env file', async () => {
    const envFile = path.join(work, 'json-cloud.env');
    const server = execa(
      'node',
      [bake, 'local-cloud', '--json', '--dir', path.join(work, 'json-cloud'), '--write-env', envFile],
      { reject: false, env: { CI: 'true' } },
    );
    await waitForFile(envFile, server);
    server.kill('SIGTERM');
    const stopped = await server;
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    const printed = parseJsonOutput('local-cloud', stopped.stdout);
    expect(printed.env_file).toBe(envFile);
    expect(printed.env.AWS_ENDPOINT_URL_EC2).toBe(printed.endpoint);
    expect(printed.env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(stopped.stderr).toContain(`local cloud at ${printed.endpoint}`);
  });

  it('never follows a symlink planted at the --write-env path', async () => {
    // A world-writable folder such as /tmp: another user plants a link where the env file will go.
    const shared = await mkdtemp(path.join(tmpdir(), 'bake-shared-tmp-'));
    await chmod(shared, 0o1777);
    onTestFinished(() => rm(shared, { recursive: true, force: true }));
    const loot = path.join(shared, 'loot');
    const envFile = path.join(shared, 'cloud.env');
    const plant = await execa(
      'runuser',
      ['-u', 'nobody', '--', 'sh', '-c', `touch ${loot} && chmod 666 ${loot} && ln -s ${loot} ${envFile}`],
      { reject: false },
    );
    expect(plant.exitCode, plant.stderr).toBe(0);
    const run = await execa(
      'node',
      [bake, 'local-cloud', '--dir', path.join(work, 'cloud-planted'), '--write-env', envFile],
      { reject: false, env: { CI: 'true' }, timeout: 60_000 },
    );
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim()).toBe(
      `${envFile}: is a symbolic link; refusing to write credentials through it (remove it or choose another path)`,
    );
    expect(await readFile(loot, 'utf8')).toBe('');
    expect(lstatSync(envFile).isSymbolicLink()).toBe(true);
    expect(readdirSync(shared).sort()).toEqual(['cloud.env', 'loot']);
  });

  it('refuses a local cloud state.json of the wrong shape in one line naming the file', async () => {
    const dir = path.join(work, 'bad-state');
    await cp(path.resolve('test/fixtures/pipeline/cli-bakery'), dir, { recursive: true });
    const state = path.join(dir, '.bake', 'local', 'state.json');
    await mkdir(path.dirname(state), { recursive: true });
    await writeFile(state, '{"version": 1, "images": {"ami-1": {}}}');
    const run = await execa('node', [bake, 'plan', '--local', '--dir', dir], { reject: false, env: { CI: 'true' } });
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      `${state}: local cloud state is not in the expected shape (images: Invalid input: expected array, received object); move it away to start afresh`,
    ]);
  });

  it('refuses a state.json that is a directory in one line, not an internal error', async () => {
    const dir = path.join(work, 'dir-state');
    await cp(path.resolve('test/fixtures/pipeline/cli-bakery'), dir, { recursive: true });
    const state = path.join(dir, '.bake', 'local', 'state.json');
    await mkdir(state, { recursive: true });
    const run = await execa('node', [bake, 'plan', '--local', '--dir', dir], { reject: false, env: { CI: 'true' } });
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      `${state}: local cloud state is not a regular file; move it away to start afresh`,
    ]);
  });

  it('refuses a half-set attachment in one line', async () => {
    const dir = path.join(work, 'half');
    await cp(path.resolve('test/fixtures/pipeline/cli-bakery'), dir, { recursive: true });
    const run = await execa('node', [bake, 'plan', '--local', '--dir', dir], {
      reject: false,
      env: { CI: 'true', BAKE_LOCAL_CLOUD_ENDPOINT: 'http://127.0.0.1:9' },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim()).toBe(
      'BAKE_LOCAL_CLOUD_ENDPOINT is set but BAKE_LOCAL_CLOUD_SSH_PORT is not a port: use the variables bake local-cloud prints',
    );
  });
});
