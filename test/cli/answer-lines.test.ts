/**
 * The answer is the answer: with stdout piped or redirected (`bake plan | tee plan.txt`,
 * `bake validate > result.txt`, Jenkins), the lines on stdout are exactly the command's answer,
 * never timestamped; the run's progress and notes on stderr keep their CI timestamps.
 * Through the built CLI (bin/bake.js → dist), stdout and stderr both pipes.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../local-cloud/memory-host.js';

const BAKE = fileURLToPath(new URL('../../bin/bake.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/fingerprint/bakery', import.meta.url));
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

let t: TestCloud;
let dir: string;

beforeAll(async () => {
  t = await startTestCloud();
  dir = await mkdtemp(path.join(tmpdir(), 'bake-answer-lines-'));
  await cp(FIXTURE, dir, { recursive: true });
});
afterAll(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

/** Not a terminal either way (execa pipes both streams); `ci` adds CI=true as Jenkins does. */
function bake(ci: boolean, ...args: string[]) {
  const { CI: _ci, ...env } = process.env;
  return execa('node', [BAKE, ...args, '--dir', dir], {
    reject: false,
    extendEnv: false,
    env: {
      ...env,
      ...(ci ? { CI: 'true' } : {}),
      AWS_ACCESS_KEY_ID: t.cloud.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: t.cloud.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
}

describe('a command’s answer on a piped stdout', () => {
  it.each([false, true])('bake validate prints its verdict as it is (CI=true: %s)', async (ci) => {
    const run = await bake(ci, 'validate');
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toBe('ok: 2 recipes, 2 roles, 1 cloud-init templates');
  });

  it.each([false, true])(
    'bake plan prints the plan without timestamps; its notes on stderr keep theirs (CI=true: %s)',
    async (ci) => {
      const run = await bake(ci, 'plan', '--endpoint', t.cloud.endpoint);
      expect(run.exitCode, run.stderr).toBe(0);
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines).toEqual(expect.arrayContaining(['base: build', 'web: build', '  no previous image']));
      expect(lines.filter((line) => STAMP.test(line))).toEqual([]);
      const notes = run.stderr.split('\n').filter(Boolean);
      expect(notes.length).toBeGreaterThan(0);
      for (const line of notes) expect(line).toMatch(STAMP);
    },
  );

  it('bake validate refuses a broken recipe with its one-line error, unstamped, and nothing on stdout', async () => {
    const broken = await mkdtemp(path.join(tmpdir(), 'bake-answer-lines-broken-'));
    await cp(FIXTURE, broken, { recursive: true });
    await cp(path.join(FIXTURE, 'recipes', 'web.yaml'), path.join(broken, 'recipes', 'api.yaml'));
    const run = await execa('node', [BAKE, 'validate', '--dir', broken], { reject: false, env: { CI: 'true' } });
    await rm(broken, { recursive: true, force: true });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^\S+recipes\/api\.yaml:\d+:\d+: name web must match the file name \(api\)$/m);
    expect(run.stderr).not.toMatch(STAMP);
  });
});
