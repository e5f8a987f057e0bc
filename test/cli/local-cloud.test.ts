/**
 * `bake local-cloud`: one local cloud shared by several bake processes, as Jenkins agents share
 * one AWS account. A `--local` command started with its variables attaches instead of starting its own.
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const bake = path.resolve('bin/bake.js');
const work = await mkdtemp(path.join(tmpdir(), 'bake-local-cloud-cli-'));
afterAll(() => rm(work, { recursive: true, force: true }));

async function waitForFile(file: string, server: ReturnType<typeof execa>): Promise<string> {
  const until = Date.now() + 30_000;
  while (!existsSync(file)) {
    if (Date.now() > until || server.exitCode !== null) throw new Error(`no ${file}: ${(await server.catch((e) => e)).stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return readFile(file, 'utf8');
}

describe('bake local-cloud', () => {
  it('serves until SIGTERM, writes sh-quoted variables, and --local commands attach to it', async () => {
    const envFile = path.join(work, 'cloud.env');
    const server = execa('node', [bake, 'local-cloud', '--dir', path.join(work, 'cloud'), '--write-env', envFile], { reject: false, env: { CI: 'true' } });
    const text = await waitForFile(envFile, server);
    const env = Object.fromEntries([...text.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
    expect(env).toMatchObject({ BAKE_LOCAL_CLOUD_ENDPOINT: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), BAKE_LOCAL_CLOUD_SSH_PORT: expect.stringMatching(/^\d+$/) });
    expect(env.AWS_ENDPOINT_URL_EC2).toBe(env.BAKE_LOCAL_CLOUD_ENDPOINT);

    // Two bakeries at once against the one cloud: neither starts (nor locks) a cloud of its own.
    const bakeries = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const dir = path.join(work, name);
        await cp(path.resolve('test/fixtures/pipeline/cli-bakery'), dir, { recursive: true });
        return dir;
      }),
    );
    const plans = await Promise.all(
      bakeries.map((dir) => execa('node', [bake, 'plan', '--local', '--dir', dir, '--json'], { reject: false, env: { ...env, CI: 'true' } })),
    );
    for (const [i, plan] of plans.entries()) {
      expect(plan.exitCode, plan.stderr).toBe(0);
      expect(JSON.parse(plan.stdout).recipes.map((r: { name: string; action: string }) => `${r.name} ${r.action}`)).toEqual(['base build', 'web build']);
      expect(existsSync(path.join(bakeries[i], '.bake', 'local'))).toBe(false);
    }

    server.kill('SIGTERM');
    const stopped = await server;
    expect(stopped.exitCode).toBe(0);
    expect(stopped.stderr).toContain('local cloud at http://127.0.0.1:');
  });

  it('refuses a half-set attachment in one line', async () => {
    const dir = path.join(work, 'half');
    await cp(path.resolve('test/fixtures/pipeline/cli-bakery'), dir, { recursive: true });
    const run = await execa('node', [bake, 'plan', '--local', '--dir', dir], { reject: false, env: { CI: 'true', BAKE_LOCAL_CLOUD_ENDPOINT: 'http://127.0.0.1:9' } });
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim()).toBe('BAKE_LOCAL_CLOUD_ENDPOINT is set but BAKE_LOCAL_CLOUD_SSH_PORT is not a port: use the variables bake local-cloud prints');
  });
});
