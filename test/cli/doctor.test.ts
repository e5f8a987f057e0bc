/**
 * `bake doctor --local` and `bake iam-policy` as a user runs them: the built CLI on a copy of the
 * example bakery, its embedded local cloud over HTTP, a denial made with BAKE_LOCAL_DENY.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJsonOutput } from '../schema/json-schemas.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BAKE = path.join(REPO, 'bin/bake.js');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bake-doctor-cli-'));
  for (const part of ['bake.config.yaml', 'recipes', 'roles', 'cloud-init'])
    await cp(path.join(REPO, part), path.join(dir, part), { recursive: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const doctor = (env: Record<string, string> = {}, ...args: string[]) =>
  execa('node', [BAKE, 'doctor', '--dir', dir, '--local', ...args], {
    reject: false,
    env: { BAKE_LOCAL_DENY: '', CI: 'true', ...env },
  });

interface DoctorJson {
  ready: boolean;
  findings: Array<{ status: string; action?: string; fix?: string; group: string }>;
}

describe('bake doctor --local', () => {
  it('exits 0 for the example bakery, everything allowed, with --json by its schema', async () => {
    const run = await doctor({}, '--json');
    expect(run.exitCode, run.stderr).toBe(0);
    const report = parseJsonOutput<DoctorJson>('doctor', run.stdout);
    expect(report.ready).toBe(true);
    expect(report.findings.filter((f) => f.status === 'problem')).toEqual([]);
    expect(run.stderr).toMatch(/ready: 0 problems, 0 not verified/);
  }, 120_000);

  it('exits 1 naming the denied action and the statement that allows it', async () => {
    const run = await doctor({ BAKE_LOCAL_DENY: 'ec2:CreateSecurityGroup' });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(
      /PROBLEM +ec2:CreateSecurityGroup denied in us-east-1 — fix: allow ec2:CreateSecurityGroup in us-east-1 \(bake iam-policy, statement BakeBuildInstances\)/,
    );
    expect(run.stdout).toMatch(/not ready: 1 problem,/);
  }, 120_000);

  it('refuses a malformed deny list in one line', async () => {
    const run = await doctor({ BAKE_LOCAL_DENY: 'RunInstances' });
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/BAKE_LOCAL_DENY: "RunInstances" is not an IAM action/);
  }, 120_000);
});
