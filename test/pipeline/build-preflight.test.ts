/**
 * `bake build` checks the permissions of what it is about to bake before any Packer starts:
 * the built CLI, a stand-in packer on PATH, the local cloud behind --endpoint with a deny list.
 */
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { readPackerJournal } from './packer-journal.js';

const bake = path.resolve('bin/bake.js');
const fixture = path.resolve('test/fixtures/pipeline/cli-bakery');

let cloud: LocalCloud;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-build-preflight-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances, deny: [] });
  await mkdir(path.join(work, 'bin'));
  await symlink(path.resolve('test/fixtures/pipeline/fake-packer.mjs'), path.join(work, 'bin', 'packer'));
});

afterAll(async () => {
  await cloud?.close();
  await rm(work, { recursive: true, force: true });
});

async function build(name: string, deny: string[], ...args: string[]) {
  const dir = path.join(work, name);
  await cp(fixture, dir, { recursive: true });
  await writeFile(path.join(dir, 'fake-packer.json'), '{}');
  const journal = path.join(dir, 'journal.ndjson');
  cloud.deny.splice(0, cloud.deny.length, ...deny);
  try {
    const run = await execa('node', [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--no-pin', ...args], {
      env: {
        ...cloud.env,
        PATH: `${path.join(work, 'bin')}:${process.env.PATH}`,
        CI: 'true',
        GIT_COMMIT: 'c0ffee0000000000000000000000000000000000',
        FAKE_PACKER_SCRIPT: path.join(dir, 'fake-packer.json'),
        FAKE_PACKER_JOURNAL: journal,
      },
      reject: false,
    });
    return { run, packerRuns: readPackerJournal(journal).filter((e) => e.event === 'start').length };
  } finally {
    cloud.deny.length = 0;
  }
}

describe("bake build's permission check", () => {
  it('refuses to start Packer when an action the build needs is denied, naming it in one line', async () => {
    const { run, packerRuns } = await build('denied', ['ec2:CreateSecurityGroup']);
    expect(run.exitCode).toBe(1);
    expect(packerRuns).toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines.filter((line) => line.includes('refusing'))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(
      /refusing to start Packer: ec2:CreateSecurityGroup denied in us-east-1 \(allow ec2:CreateSecurityGroup in us-east-1 \(bake iam-policy, statement BakeBuildInstances\)\)/,
    );
  }, 120_000);

  it('bakes when what is denied is only for prune, and says what it could not verify', async () => {
    const { run, packerRuns } = await build('prune-only', ['ec2:DeleteSnapshot', 'iam:SimulatePrincipalPolicy']);
    expect(run.stderr).not.toContain('refusing');
    expect(run.exitCode, run.stderr).toBe(0);
    expect(packerRuns).toBe(2);
    expect(run.stderr).toMatch(/permission check: ec2:CreateImage in us-east-1 not verified/);
    expect(run.stderr).toMatch(/permission check of 2 recipes: nothing denied, \d+ not verified/);
  }, 120_000);

  // --force: the bakery's images from the test before are still in the cloud.
  it('can be skipped (--no-preflight), for an endpoint that does not know DryRun', async () => {
    const { run, packerRuns } = await build('skipped', ['ec2:CreateSecurityGroup'], '--no-preflight', '--force');
    expect(run.stderr).not.toContain('permission check');
    expect(packerRuns).toBe(2);
  }, 120_000);
});
