/**
 * buildBakery against bake's local EC2-compatible cloud, over real HTTP: the stand-in `packer`
 * makes real images there (CopyImage, as Packer's copies to other regions), and bake's real
 * tagger (src/aws/tag-image.ts) tags them; with the distribution step, bake copies to the other
 * regions itself (src/lifecycle/distribute.ts). Only the instance host is a no-op: no instance is
 * launched in this test, images need no filesystem.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImageDistribution } from '../../src/aws/image-distribution.js';
import { tagImage } from '../../src/aws/tag-image.js';
import { distributeImage } from '../../src/lifecycle/distribute.js';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { appendBuildLog } from '../../src/pipeline/build-log.js';
import { readManifest } from '../../src/packer/manifest.js';
import { renderRecipe } from '../../src/packer/render.js';
import { runPackerBuild } from '../../src/packer/runner.js';
import { writePackerVariables } from '../../src/packer/variables.js';
import { buildBakery, type BuildDeps, type PlannedRecipe } from '../../src/pipeline/build.js';
import { buildExitCode } from '../../src/pipeline/build-report.js';
import type { Recipe } from '../../src/recipes/model.js';
import { readPackerJournal } from './packer-journal.js';
import { bakeryOf, recipeOf } from './bakery.js';

const fakePacker = path.resolve('test/fixtures/pipeline/fake-packer.mjs');

let cloud: LocalCloud;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'bake-build-cloud-'));
  cloud = await startLocalCloud({ stateDir: path.join(root, '.bake', 'local'), host: noInstances });
  // bake's own SDK calls find the local cloud's credentials the way the CLI provides them.
  process.env.AWS_ACCESS_KEY_ID = cloud.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = cloud.env.AWS_SECRET_ACCESS_KEY;
});

afterAll(async () => {
  await cloud?.close();
});

function planned(recipe: Recipe, extra: Partial<PlannedRecipe> = {}): PlannedRecipe {
  return {
    name: recipe.name,
    recipe,
    action: 'build',
    reasons: ['never built'],
    fingerprint: `${recipe.name}0123456789abcdef`,
    inputs: 'roles:3f2a cloud-init:9b1c',
    amis: {},
    baseAmi: '',
    ...extra,
  };
}

/** The real renderer, runner, manifest reader and tagger against the local cloud; the stand-in packer. */
function cloudDeps(extra: Partial<BuildDeps> = {}): BuildDeps {
  const aws = { endpoint: cloud.endpoint };
  return {
    render: (recipe, outDir) =>
      renderRecipe(bakeryOf(root, []), recipe, outDir, { shape: 'legacy', target: { ec2Endpoint: cloud.endpoint } }),
    writeVariables: writePackerVariables,
    runPacker: (request) => runPackerBuild({ ...request, bin: fakePacker }),
    readManifest: (file) => readManifest(file),
    appendLog: appendBuildLog,
    tagImage: async (region, ami, tags) => void (await tagImage(aws, region, ami, tags)),
    pin: async () => [],
    gitCommit: async () => 'feedc0de',
    now: () => new Date(),
    ...extra,
  };
}

describe('buildBakery against the local cloud', () => {
  it('tags every new image and its snapshots in every region, the child built from the parent’s new image', async () => {
    const script = path.join(root, 'fake-packer.json');
    await writeFile(
      script,
      JSON.stringify({ base: { regions: ['us-east-1', 'eu-west-1'] }, web: { regions: ['us-east-1'] } }),
    );
    await mkdir(path.join(root, 'infra'), { recursive: true });
    const debian = baseImageId('us-east-1');
    const base = recipeOf(root, 'base', { kind: 'ami', ami: debian }, { regions: ['us-east-1', 'eu-west-1'] });
    const web = recipeOf(root, 'web', { kind: 'recipe', recipe: 'base' }, { tags: { team: 'frontend' } });
    const deps = cloudDeps();

    const report = await buildBakery(
      bakeryOf(root, [base, web]),
      { recipes: [planned(base, { baseAmi: debian }), planned(web, { parent: 'base' })] },
      deps,
      {
        runId: 'cloud-run',
        packerEnv: { ...cloud.env, FAKE_PACKER_SCRIPT: script, FAKE_PACKER_JOURNAL: path.join(root, 'journal.ndjson') },
      },
    );

    expect(report.recipes.map((r) => r.status)).toEqual(['built', 'built']);
    expect(buildExitCode(report)).toBe(0);
    const baseAmis = report.recipes[0].amis;
    for (const [region, ami] of [...Object.entries(baseAmis), ['us-east-1', report.recipes[1].amis['us-east-1']]]) {
      const ec2 = new EC2Client({ region, endpoint: cloud.endpoint });
      const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }))).Images ?? [];
      const tags = Object.fromEntries((image.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags['bake:git-commit']).toBe('feedc0de');
      expect(tags['bake:base-ami']).toBe(debian);
      expect(tags['bake:inputs']).toBe('roles:3f2a cloud-init:9b1c');
      const snapshotIds = (image.BlockDeviceMappings ?? []).flatMap((m) =>
        m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : [],
      );
      expect(snapshotIds.length).toBeGreaterThan(0);
      const { Snapshots = [] } = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }));
      for (const snapshot of Snapshots) {
        expect(Object.fromEntries((snapshot.Tags ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({
          'bake:recipe': tags['bake:recipe'],
          'bake:fingerprint': tags['bake:fingerprint'],
        });
      }
      if (tags['bake:recipe'] === 'web') {
        expect(tags).toMatchObject({ 'bake:parent': baseAmis['us-east-1'], team: 'frontend' });
      } else {
        expect(tags['bake:parent']).toBeUndefined();
      }
      ec2.destroy();
    }
  });

  it('copies to the other regions itself; one failing fails the recipe, keeps what was made, and the re-run only copies', async () => {
    const script = path.join(root, 'fake-packer-distribution.json');
    const journal = path.join(root, 'journal-distribution.ndjson');
    await writeFile(script, JSON.stringify({ spread: { regions: ['us-east-1'] } }));
    await mkdir(path.join(root, 'infra'), { recursive: true });
    const debian = baseImageId('us-east-1');
    const web = recipeOf(
      root,
      'spread',
      { kind: 'ami', ami: debian },
      {
        regions: ['us-east-1', 'eu-west-1', 'ap-northeast-1'],
        deprecateAfterDays: 180,
        shareWith: ['123456789012'],
        pin: [
          {
            file: path.join(root, 'infra/spread.auto.tfvars'),
            fileAsWritten: '../infra/spread.auto.tfvars',
            variable: 'web_ami',
            format: 'map',
            location: { file: 'x', line: 1, col: 1 },
          },
        ],
      },
    );
    const deps = cloudDeps({
      distribute: (request) =>
        distributeImage(createImageDistribution({ endpoint: cloud.endpoint }, { maxWaitSeconds: 60 }), request),
    });
    const entry = planned(web, { baseAmi: debian });
    const options = { packerEnv: { ...cloud.env, FAKE_PACKER_SCRIPT: script, FAKE_PACKER_JOURNAL: journal } };

    cloud.faults.push({
      action: 'CopyImage',
      region: 'ap-northeast-1',
      message: 'copies into ap-northeast-1 are not allowed',
      times: 1,
    });
    const first = await buildBakery(bakeryOf(root, [web]), { recipes: [entry] }, deps, { ...options, runId: 'run-1' });
    expect(first.recipes[0]).toMatchObject({ status: 'failed' });
    expect(first.recipes[0].error).toMatch(
      /^distributing ami-\w+ failed in ap-northeast-1 \(copying .*UnauthorizedOperation: copies into ap-northeast-1 are not allowed\)$/,
    );
    expect(first.pin).toEqual({ status: 'skipped', reason: 'a recipe failed' });
    const log = await readFile(first.recipes[0].log!, 'utf8');
    const east = /tagged (ami-\w+) in us-east-1/.exec(log)![1];
    const west = /copying ami-\w+ \(us-east-1\) to eu-west-1 as (ami-\w+)/.exec(log)![1];
    expect(log).toContain(`# bake: tagged ${west} in eu-west-1 and its snapshots`);
    expect(log).toContain(`# bake: shared ${west} in eu-west-1 with 123456789012`);

    // What the plan says next (test/plan covers how): today's image exists in us-east-1 and eu-west-1.
    const events = async () => readPackerJournal(journal).length;
    const packerRuns = await events();
    const again = await buildBakery(
      bakeryOf(root, [web]),
      {
        recipes: [
          {
            ...entry,
            amis: { 'us-east-1': east, 'eu-west-1': west },
            distributeOnly: { region: 'us-east-1', ami: east },
          },
        ],
      },
      deps,
      { ...options, runId: 'run-2' },
    );
    expect(again.recipes[0]).toMatchObject({ status: 'built', amis: { 'us-east-1': east, 'eu-west-1': west } });
    expect(await events()).toBe(packerRuns);
    const tokyo = again.recipes[0].amis['ap-northeast-1'];
    const ec2 = new EC2Client({ region: 'ap-northeast-1', endpoint: cloud.endpoint });
    const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [tokyo] }))).Images!;
    ec2.destroy();
    const tags = Object.fromEntries((image.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
    expect(tags).toMatchObject({
      'bake:recipe': 'spread',
      'bake:fingerprint': 'spread0123456789abcdef',
      'bake:git-commit': 'feedc0de',
    });
    expect(image.DeprecationTime).toBeDefined();
    expect(again.pin.status).toBe('pinned');
  });
});
