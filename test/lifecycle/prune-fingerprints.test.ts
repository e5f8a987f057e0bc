/**
 * `bake prune` keeps every image that carries its recipe's current fingerprint. It learns those
 * fingerprints the way plan computes them (src/fingerprint/fingerprint-bakery.ts), from content
 * ids and base images only: no plan, no listing of bake's images, no history of why they changed.
 * Against the embedded local cloud, counting its EC2 calls, and real git behind a wrapper that
 * notes each git command run.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AwsSettings } from '../../src/aws/settings.js';
import { productionPruneDeps } from '../../src/pipeline/prune-deps.js';
import { DEBIAN_ACCOUNT } from '../../src/local-cloud/index.js';
import { planBakery, type Plan } from '../../src/pipeline/plan.js';
import { productionPlanDeps } from '../../src/pipeline/plan-deps.js';
import type { Bakery } from '../../src/recipes/model.js';
import { startTestCloud, type TestCloud } from '../local-cloud/memory-host.js';
import { BakeryRepo } from '../pipeline/bakery-repo.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';
import { imageAsBuilt } from '../pipeline/image-as-built.js';

let t: TestCloud;
let ec2: EC2Client;
let aws: AwsSettings;
let repo: BakeryRepo;
let gitWrapper: string;
const gitLog = () => path.join(gitWrapper, 'commands');
const savedPath = process.env.PATH;

beforeAll(async () => {
  // Test files run in their own process (pool: forks): this PATH is this file's alone.
  gitWrapper = await mkdtemp(path.join(tmpdir(), 'bake-git-wrapper-'));
  const realGit = (await execa('sh', ['-c', 'command -v git'])).stdout.trim();
  await writeFile(
    path.join(gitWrapper, 'git'),
    `#!/bin/sh\nprintf '%s\\n' "$1" >> '${gitLog()}'\nexec '${realGit}' "$@"\n`,
  );
  await chmod(path.join(gitWrapper, 'git'), 0o755);
  process.env.PATH = `${gitWrapper}:${savedPath}`;
  t = await startTestCloud();
  ec2 = t.ec2('us-east-1');
  aws = { endpoint: t.cloud.endpoint, region: 'us-east-1' };
  process.env.AWS_ACCESS_KEY_ID = t.cloud.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = t.cloud.credentials.secretAccessKey;
});
afterAll(async () => {
  process.env.PATH = savedPath;
  await rm(gitWrapper, { recursive: true, force: true });
  await t.close();
});
beforeEach(async () => {
  repo = await BakeryRepo.create();
});
afterEach(() => repo.close());

/** base from a name filter (an EC2 lookup), web FROM base. */
const bakery = (): Bakery =>
  repo.bakery({ base: { base: { kind: 'filter', name: 'debian-12-amd64-*', owners: [DEBIAN_ACCOUNT] } } });

/** The EC2 (and SSM) calls `work` made, by action, and the git commands it ran. */
async function callsOf<T>(
  work: () => Promise<T>,
): Promise<{ result: T; calls: Record<string, number>; git: string[] }> {
  const before = new Map(t.cloud.calls);
  await writeFile(gitLog(), '');
  const result = await work();
  const calls: Record<string, number> = {};
  for (const [action, count] of t.cloud.calls)
    if (count !== (before.get(action) ?? 0)) calls[action] = count - (before.get(action) ?? 0);
  const git = [...new Set((await readFile(gitLog(), 'utf8')).split('\n').filter(Boolean))].sort();
  return { result, calls, git };
}

const fingerprintsOf = (plan: Plan) => new Map(plan.recipes.map((entry) => [entry.name, entry.fingerprint]));

describe('the fingerprints bake prune keeps images by', () => {
  it('are the plan’s, learned without the plan’s image listing or history: only the base image lookup goes to EC2', async () => {
    // Yesterday's images of both recipes, then a role change that only web reaches.
    const first = await planBakery(bakery(), bakery().recipes, () => productionPlanDeps(bakery(), aws));
    const commit = await repo.git('rev-parse', 'HEAD');
    const [base, web] = first.recipes;
    const baseAmi = await imageAsBuilt(ec2, base, base.baseAmi, commit);
    const webAmi = await imageAsBuilt(ec2, web, baseAmi, commit);
    for (const [entry, imageId] of [
      [base, baseAmi],
      [web, webAmi],
    ] as const)
      await recordAsBuilt(t.cloud, bakery().config.bakery, {
        recipe: entry.name,
        fingerprint: entry.fingerprint,
        region: 'us-east-1',
        imageId,
      });
    await repo.write('roles/nginx/templates/site.conf.j2', 'server { listen {{ nginx_port }} http2; }\n');
    await repo.commit('nginx: http2');

    const prune = await callsOf(() => productionPruneDeps(bakery(), aws).currentFingerprints(bakery().recipes));
    const plan = await callsOf(() => planBakery(bakery(), bakery().recipes, () => productionPlanDeps(bakery(), aws)));

    expect(plan.result.recipes.map((entry) => [entry.name, entry.action, entry.reasons])).toEqual([
      ['base', 'reuse', []],
      ['web', 'build', ['role nginx: templates/site.conf.j2 changed']],
    ]);
    expect(prune.result).toEqual(fingerprintsOf(plan.result));
    expect(prune.result.get('web')).not.toBe(web.fingerprint);
    // The filter base's lookup; plan also lists bake's images in the region.
    expect(prune.calls).toEqual({ DescribeImages: 1 });
    // ... and reads the build records of today's fingerprints: one GetParameters for the region.
    expect(plan.calls).toEqual({ DescribeImages: 2, 'AmazonSSM.GetParameters': 1 });
    // Both take content ids from git's index; only plan reads the tree at the images' commit, to say what changed.
    const readsHistory = (commands: string[]) =>
      commands.filter((command) => ['ls-tree', 'show', 'cat-file', 'log'].includes(command));
    expect(prune.git).toContain('ls-files');
    expect(readsHistory(prune.git)).toEqual([]);
    expect(plan.git).toContain('ls-files');
    expect(readsHistory(plan.git)).not.toEqual([]);
  });

  it('are those of the asked recipes only, each with its parent’s fingerprint inside', async () => {
    const all = await productionPruneDeps(bakery(), aws).currentFingerprints(bakery().recipes);
    const webOnly = await productionPruneDeps(bakery(), aws).currentFingerprints(
      bakery().recipes.filter((r) => r.name === 'web'),
    );
    expect([...webOnly]).toEqual([['web', all.get('web')]]);
  });
});
