/**
 * `bake build` as Jenkins runs it: the built CLI (bin/bake.js → dist, built by `npm test`), a
 * stand-in `packer` first on PATH, bake's local EC2-compatible cloud behind --endpoint.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type InstanceHost, type LocalCloud } from '../../src/local-cloud/index.js';

const bake = path.resolve('bin/bake.js');
const fixture = path.resolve('test/fixtures/pipeline/cli-bakery');

const noInstances: InstanceHost = {
  launch: async () => ({ ip: '127.0.0.2', sshPort: 22 }),
  stop: async () => {},
  start: async () => ({ ip: '127.0.0.2', sshPort: 22 }),
  capture: async () => {},
  alias: async () => {},
  terminate: async () => {},
  deleteImage: async () => {},
  close: async () => {},
};

let cloud: LocalCloud;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-cli-build-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  const bin = path.join(work, 'bin');
  await mkdir(bin);
  await symlink(path.resolve('test/fixtures/pipeline/fake-packer.mjs'), path.join(bin, 'packer'));
});

afterAll(async () => {
  await cloud?.close();
});

async function bakery(name: string, script: Record<string, unknown>) {
  const dir = path.join(work, name);
  await cp(fixture, dir, { recursive: true });
  await writeFile(path.join(dir, 'fake-packer.json'), JSON.stringify(script));
  const env = {
    ...cloud.env,
    PATH: `${path.join(work, 'bin')}:${process.env.PATH}`,
    CI: 'true',
    BUILD_URL: 'https://jenkins.example/job/bake/7/',
    GIT_COMMIT: 'c0ffee0000000000000000000000000000000000',
    FAKE_PACKER_SCRIPT: path.join(dir, 'fake-packer.json'),
    FAKE_PACKER_JOURNAL: path.join(dir, 'journal.ndjson'),
  };
  const journal = () =>
    existsSync(env.FAKE_PACKER_JOURNAL)
      ? readFileSync(env.FAKE_PACKER_JOURNAL, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { recipe: string; pid: number; event: string })
      : [];
  return { dir, env, journal };
}

describe('bake build (CLI)', () => {
  it('builds parent then child, pins both, prints JSON and writes JUnit; a second run reuses both', async () => {
    const { dir, env } = await bakery('ok', {});
    const junit = path.join(dir, 'junit.xml');
    const run = await execa('node', [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--json', '--junit', junit], { env, reject: false });
    expect(run.stderr).not.toContain('internal error');
    expect(run.exitCode).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.recipes.map((r: { name: string; status: string }) => `${r.name} ${r.status}`)).toEqual(['base built', 'web built']);
    const tfvars = await readFile(path.join(dir, 'infra', 'amis.auto.tfvars'), 'utf8');
    expect(tfvars).toContain(report.recipes[0].amis['us-east-1']);
    expect(tfvars).toContain(report.recipes[1].amis['us-east-1']);
    const suite = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(await readFile(junit, 'utf8')).testsuites.testsuite;
    expect(suite).toMatchObject({ name: 'bake build', tests: '2', failures: '0' });

    const again = await execa('node', [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--json'], { env, reject: false });
    expect(again.exitCode).toBe(0);
    expect(JSON.parse(again.stdout).recipes.map((r: { status: string }) => r.status)).toEqual(['reused', 'reused']);
  });

  it('on SIGINT interrupts packer, pins nothing and exits 1 with what was done', async () => {
    const { dir, env, journal } = await bakery('interrupted', { base: { hang: true } });
    // --force: the first test already baked these same recipes into this cloud, so a plain run would reuse them.
    const run = execa('node', [bake, 'build', '--force', '--dir', dir, '--endpoint', cloud.endpoint, '--json'], { env, reject: false });
    const startedBy = Date.now() + 60_000;
    while (!journal().some((e) => e.recipe === 'base' && e.event === 'start')) {
      if (Date.now() > startedBy) throw new Error(`packer never started: ${(await run.catch((e) => e)).stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    run.kill('SIGINT');
    const result = await run;
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.interrupted).toBe(true);
    expect(report.recipes.map((r: { status: string }) => r.status)).toEqual(['aborted', 'aborted']);
    expect(journal().map((e) => `${e.recipe} ${e.event}`)).toEqual(['base start', 'base interrupt']);
    expect(() => process.kill(journal()[0].pid, 0)).toThrow();
    expect(existsSync(path.join(dir, 'infra', 'amis.auto.tfvars'))).toBe(false);
    expect(result.stderr).toContain('SIGINT received');
  });
});
