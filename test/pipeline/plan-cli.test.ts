/**
 * `bake plan` as Jenkins runs it: the built CLI, a bakery in git, EC2 over HTTP (the local
 * cloud). Exit codes: 0, and with --detailed-exitcode 2 while something would be built.
 */
import { appendFile, cp, lstat, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTagsCommand, DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { FINGERPRINT_TAG, INPUTS_TAG } from '../../src/tags/tag-contract.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../local-cloud/memory-host.js';
import { imageAsBuilt } from './image-as-built.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';
import { inChromium, nodesIn } from '../report/chromium.js';
import { parseJsonOutput } from '../schema/json-schemas.js';

const BAKE = fileURLToPath(new URL('../../bin/bake.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/fingerprint/bakery', import.meta.url));

interface JsonPlan {
  recipes: Array<{
    name: string;
    action: string;
    reasons: string[];
    fingerprint: string;
    amis: Record<string, string>;
    inputs: string;
    base_ami: string;
    level?: number;
  }>;
  changed_since?: { ref: string; commit: string; recipes: Record<string, string[]> };
}

let t: TestCloud;
let dir: string;

beforeAll(async () => {
  t = await startTestCloud();
  dir = await mkdtemp(path.join(tmpdir(), 'bake-plan-cli-'));
  await cp(FIXTURE, dir, { recursive: true });
  const git = (...args: string[]) =>
    execa('git', args, {
      cwd: dir,
      env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' },
    });
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'bakery');
});
afterAll(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

function bake(...args: string[]) {
  return execa('node', [BAKE, 'plan', '--dir', dir, '--endpoint', t.cloud.endpoint, ...args], {
    reject: false,
    env: {
      AWS_ACCESS_KEY_ID: t.cloud.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: t.cloud.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      CI: 'true',
      // The SDK warns on Node 20 about its own future support; stderr here should hold bake's words only.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
}

describe('bake plan (CLI)', () => {
  let first: JsonPlan;

  it('exits 2 with --detailed-exitcode while something would be built, and prints the plan as JSON', async () => {
    const run = await bake('--json', '--detailed-exitcode');
    expect(run.stderr).toContain('base: build');
    expect(run.exitCode).toBe(2);
    first = parseJsonOutput('plan', run.stdout) as JsonPlan;
    expect(first.recipes.map((r) => [r.name, r.action, r.reasons])).toEqual([
      ['base', 'build', ['no previous image']],
      ['web', 'build', ['no previous image']],
    ]);
    // Build waves for CI: web waits for base, which is built in the same run.
    expect(first.recipes.map((r) => r.level)).toEqual([0, 1]);
    expect(first.recipes[0].fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(first.recipes[0].base_ami).toMatch(/^ami-/);
  });

  it('writes a self-contained HTML report with --report that a browser renders, one graph node per recipe', async () => {
    const file = path.join(dir, 'reports', 'plan.html');
    const run = await bake('--report', file);
    expect(run.exitCode, run.stderr).toBe(0);
    const { dom } = await inChromium(file);
    expect(nodesIn(dom)).toEqual(['base:build', 'web:build']);
    expect(dom).toContain('no previous image');
  });

  it('refuses a --report path that is a symbolic link (planted in a shared /tmp) and leaves the file it points to alone', async () => {
    const shared = await mkdtemp(path.join(tmpdir(), 'bake-shared-tmp-'));
    const victim = path.join(dir, 'root-only');
    await writeFile(victim, 'root only\n', { mode: 0o600 });
    const link = path.join(shared, 'plan.html');
    await symlink(victim, link);
    const run = await bake('--report', link);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      `${link}: is a symbolic link; refusing to write the report through it (remove it or choose another path)`,
    );
    expect(await readFile(victim, 'utf8')).toBe('root only\n');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readdir(shared)).toEqual(['plan.html']);
  });

  it('exits 0 without the flag, whatever it would build', async () => {
    const run = await bake();
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/web: build\n.*  no previous image/);
  });

  it('exits 0 with --detailed-exitcode once every image exists, and names the images it reuses', async () => {
    // The plan's JSON entry, as the build would record it (base_ami is the JSON spelling of baseAmi).
    const built = (entry: JsonPlan['recipes'][number]) => ({ ...entry, baseAmi: entry.base_ami });
    const base = await imageAsBuilt(t.ec2('us-east-1'), built(first.recipes[0]), first.recipes[0].base_ami);
    const web = await imageAsBuilt(t.ec2('us-east-1'), built(first.recipes[1]), base);
    // The bakery is named after its folder (no remote, no `bakery:`).
    for (const [entry, imageId] of [
      [first.recipes[0], base],
      [first.recipes[1], web],
    ] as const)
      await recordAsBuilt(t.cloud, path.basename(dir), {
        recipe: entry.name,
        fingerprint: entry.fingerprint,
        region: 'us-east-1',
        imageId,
      });
    const run = await bake('--detailed-exitcode');
    // stderr holds only the note naming the bakery (this one configures no name); the plan is on stdout.
    expect(run.stderr).toMatch(/^\S+ note: bakery \S+ \(from the [^)]+\)[^\n]*$/);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`base: reuse ${base} (us-east-1)`);
    expect(run.stdout).toContain(`web: reuse ${web} (us-east-1)`);
  });

  it('with --changed-since plans only the recipes whose inputs changed since the ref', async () => {
    const unchanged = await bake('--changed-since', 'HEAD', '--json');
    expect(unchanged.exitCode).toBe(0);
    expect(parseJsonOutput('plan', unchanged.stdout)).toMatchObject({
      changed_since: { ref: 'HEAD', recipes: {} },
      recipes: [],
    });

    await appendFile(path.join(dir, 'roles/nginx/tasks/main.yml'), '# a one-line change\n');
    const run = await bake('--changed-since', 'HEAD', '--json', '--detailed-exitcode');
    expect(run.exitCode).toBe(2);
    const plan = parseJsonOutput('plan', run.stdout) as JsonPlan;
    expect(plan.changed_since?.recipes).toEqual({ web: ['roles changed: nginx'] });
    // base is unchanged and its image exists: only web is planned, and it starts the first wave.
    expect(plan.recipes.map((r) => [r.name, r.action, r.level])).toEqual([['web', 'build', 0]]);
    expect(run.stderr).toContain('changed since HEAD');
  });

  it('says once, plainly, when the images were made by another version of the template generator', async () => {
    const ec2 = t.ec2('us-east-1');
    const { Images } = await ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:bake:recipe', Values: ['base'] }] }),
    );
    const base = Images![0];
    const tag = (key: string) => base.Tags!.find((t) => t.Key === key)!.Value!;
    const today = [
      { Key: INPUTS_TAG, Value: tag(INPUTS_TAG) },
      { Key: FINGERPRINT_TAG, Value: tag(FINGERPRINT_TAG) },
    ];
    // As an image baked by a bake whose generator differed: another fingerprint, and bake:inputs
    // records another gen digest.
    const older = tag(INPUTS_TAG).replace(/gen=[0-9a-f]+/, 'gen=000000000000');
    expect(older).not.toBe(tag(INPUTS_TAG));
    await ec2.send(
      new CreateTagsCommand({
        Resources: [base.ImageId!],
        Tags: [
          { Key: INPUTS_TAG, Value: older },
          { Key: FINGERPRINT_TAG, Value: '0000000000000000' },
        ],
      }),
    );
    try {
      const run = await bake('--json');
      expect(run.exitCode, run.stderr).toBe(0);
      const notes = run.stderr.split('\n').filter((line) => line.includes('changed the generated templates'));
      expect(notes).toEqual([
        expect.stringMatching(
          /note: bake \d+\.\d+ changed the generated templates: every recipe rebuilds; see CHANGELOG$/,
        ),
      ]);
      const plan = parseJsonOutput('plan', run.stdout) as JsonPlan;
      expect(plan.recipes.find((r) => r.name === 'base')!.reasons).toEqual(["bake's template generator changed"]);
    } finally {
      await ec2.send(new CreateTagsCommand({ Resources: [base.ImageId!], Tags: today }));
    }
    expect((await bake()).stderr).not.toContain('changed the generated templates');
  });

  it('reports an unknown recipe in one line with exit 1', async () => {
    const run = await bake('nosuch');
    expect(run.exitCode).toBe(1);
    const lines = run.stderr
      .trim()
      .split('\n')
      .filter((line) => !/^\S+ note: bakery /.test(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('nosuch');
  });
});
