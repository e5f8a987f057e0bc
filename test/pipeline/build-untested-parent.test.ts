/**
 * `bake build --parent-untested` and `--launch-test later` (CI's split bake, issue 31 item 3),
 * against the local cloud over HTTP: the parent image is a real image there, tagged
 * `bake:launch-test=pending` as another job's `--launch-test later` leaves it; the child's bake
 * watches its tag with the production DescribeImages watch while the stand-in Packer (a real
 * process) bakes on it. Each test decides what happens to the parent image mid-bake.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CopyImageCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildRecords } from '../../src/aws/build-records.js';
import { discardImage } from '../../src/aws/discard-image.js';
import { imageLaunchTestState } from '../../src/aws/image-launch-test.js';
import { tagImage } from '../../src/aws/tag-image.js';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { readManifest } from '../../src/packer/manifest.js';
import { renderRecipe } from '../../src/packer/render.js';
import { runPackerBuild } from '../../src/packer/runner.js';
import { writePackerVariables } from '../../src/packer/variables.js';
import { appendBuildLog } from '../../src/pipeline/build-log.js';
import { buildBakery, type BuildDeps, type BuildOptions, type PlannedRecipe } from '../../src/pipeline/build.js';
import { buildExitCode } from '../../src/pipeline/build-report.js';
import { DEFAULT_LAUNCH_TEST_TIMEOUT_MS } from '../../src/recipes/model.js';
import type { BuildRecord } from '../../src/tags/build-record.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { bakeryOf, recipeOf } from './bakery.js';
import { launchTestResult } from './launch-test-result.js';
import { readPackerJournal } from './packer-journal.js';
import { until } from './until.js';

const fakePacker = path.resolve('test/fixtures/pipeline/fake-packer.mjs');
const at = { file: 'recipes/x.yaml', line: 1, col: 1 };
const region = 'us-east-1';

let cloud: LocalCloud;
let ec2: EC2Client;

beforeAll(async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'bake-untested-parent-cloud-'));
  cloud = await startLocalCloud({ stateDir: path.join(root, '.bake', 'local'), host: noInstances });
  process.env.AWS_ACCESS_KEY_ID = cloud.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = cloud.env.AWS_SECRET_ACCESS_KEY;
  ec2 = new EC2Client({ region, endpoint: cloud.endpoint });
});

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
});

/** Build records in memory, as src/aws/build-records.ts keeps them in SSM. */
function memoryRecords() {
  const records = new Map<string, BuildRecord>();
  const key = (recipe: string, fingerprint: string, at: string) => `${recipe} ${fingerprint} ${at}`;
  const store: BuildRecords & { records: Map<string, BuildRecord> } = {
    records,
    async read(queries) {
      const found = new Map<string, Record<string, BuildRecord>>();
      for (const q of queries)
        for (const r of q.regions) {
          const record = records.get(key(q.recipe, q.fingerprint, r));
          if (record) found.set(q.recipe, { ...found.get(q.recipe), [r]: record });
        }
      return found;
    },
    async write(recipe, fingerprint, at, record) {
      records.set(key(recipe, fingerprint, at), record);
    },
  };
  return store;
}

/**
 * base's image, baked by "another job" with --launch-test later (a copy of Debian tagged
 * pending), and web to bake on it: `script` says what web's stand-in Packer does.
 */
async function childOfUntestedParent(script: Record<string, unknown>, launchTested = true) {
  const root = await mkdtemp(path.join(tmpdir(), 'bake-untested-parent-'));
  const run = randomBytes(3).toString('hex');
  const { ImageId: parentAmi } = await ec2.send(
    new CopyImageCommand({ SourceImageId: baseImageId(region), SourceRegion: region, Name: `base-${run}` }),
  );
  await ec2.send(
    new CreateTagsCommand({
      Resources: [parentAmi!],
      Tags: [
        { Key: 'bake:recipe', Value: 'base' },
        { Key: 'bake:launch-test', Value: 'pending' },
      ],
    }),
  );
  const scriptFile = path.join(root, 'fake-packer.json');
  const journal = path.join(root, 'journal.ndjson');
  await writeFile(scriptFile, JSON.stringify({ web: script }));
  const web = recipeOf(
    root,
    'web',
    { kind: 'recipe', recipe: 'base' },
    {
      launchTest: {
        enabled: launchTested,
        userData: [],
        checks: [],
        timeoutMs: DEFAULT_LAUNCH_TEST_TIMEOUT_MS,
        location: at,
      },
    },
  );
  const events: string[] = [];
  const looks = { count: 0 };
  const records = memoryRecords();
  const aws = { endpoint: cloud.endpoint };
  const webFingerprint = `web${run}0123456789`;
  const deps: BuildDeps = {
    render: (r, outDir) =>
      renderRecipe(bakeryOf(root, []), r, outDir, { shape: 'legacy', target: { ec2Endpoint: cloud.endpoint } }),
    writeVariables: writePackerVariables,
    runPacker: (request) => runPackerBuild({ ...request, bin: fakePacker }),
    readManifest: (file) => readManifest(file),
    appendLog: appendBuildLog,
    tagImage: async (at, ami, tags) => {
      await tagImage(aws, at, ami, tags);
      events.push(`tag ${tags['bake:recipe'] ?? ami} ${tags['bake:launch-test'] ?? '-'}`);
    },
    discardImage: (at, imageId) => discardImage(ec2, at, imageId),
    imageLaunchTestState: (at, imageId) => (looks.count++, imageLaunchTestState(ec2, at, imageId)),
    watchDelayMs: () => 50,
    records,
    launchTest: async (request) => {
      events.push(`launch test ${request.recipe.name}`);
      return launchTestResult('passed', request.imageId);
    },
    pin: async () => {},
    gitCommit: async () => 'feedc0de',
    now: () => new Date(),
  };
  const plan = {
    recipes: [
      {
        name: 'web',
        recipe: web,
        action: 'build',
        reasons: ['never built'],
        fingerprint: webFingerprint,
        amis: {},
        baseAmi: parentAmi!,
        parent: 'base',
        untestedParent: { recipe: 'base', fingerprint: `base${run}`, region, ami: parentAmi! },
      } satisfies PlannedRecipe,
    ],
  };
  const build = (options: BuildOptions = {}) =>
    buildBakery(bakeryOf(root, [web]), plan, deps, {
      runId: `run-${run}`,
      packerEnv: { ...cloud.env, FAKE_PACKER_SCRIPT: scriptFile, FAKE_PACKER_JOURNAL: journal },
      distribute: false,
      ...options,
    });
  const packer = (event: string) => readPackerJournal(journal).some((e) => e.recipe === 'web' && e.event === event);
  /** The parent's build records it, as it does once its launch test passed: what the watch trusts, not the tag. */
  const recordParent = () =>
    records.write('base', `base${run}`, region, { imageId: parentAmi!, runId: 'other', recordedAt: '' });
  const webImages = async () => {
    const { Images = [] } = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'tag:bake:fingerprint', Values: [webFingerprint] }],
      }),
    );
    return Images.map((i) => ({ id: i.ImageId, launchTest: i.Tags?.find((t) => t.Key === 'bake:launch-test')?.Value }));
  };
  return { parentAmi: parentAmi!, build, packer, recordParent, webImages, records, events, webFingerprint, looks };
}

describe('bake build --parent-untested: a bake on a parent image another job still tests', () => {
  it("stops the child when the parent's tag says failed: Packer interrupted, nothing of it left, reported skipped", async () => {
    const { parentAmi, build, packer, webImages, events } = await childOfUntestedParent({ hang: true });
    const report = build();
    await until(() => packer('start'), "web's Packer starting");
    await ec2.send(
      new CreateTagsCommand({ Resources: [parentAmi], Tags: [{ Key: 'bake:launch-test', Value: 'failed' }] }),
    );
    const done = await report;
    expect(done.recipes.map((r) => [r.name, r.status, r.error])).toEqual([
      ['web', 'skipped', 'parent base failed its launch test'],
    ]);
    expect(buildExitCode(done)).toBe(1);
    expect(packer('interrupt')).toBe(true);
    expect(await webImages()).toEqual([]);
    expect(events.filter((e) => e.startsWith('launch test'))).toEqual([]);
  }, 60_000);

  it('removes the finished child image when the parent fails after it, before the child is tested', async () => {
    const { parentAmi, build, packer, webImages, events } = await childOfUntestedParent({});
    const report = build();
    await until(() => events.includes('tag web pending'), "web's image tagged pending");
    await ec2.send(
      new CreateTagsCommand({ Resources: [parentAmi], Tags: [{ Key: 'bake:launch-test', Value: 'failed' }] }),
    );
    const done = await report;
    expect(done.recipes[0]).toMatchObject({ status: 'skipped', error: 'parent base failed its launch test' });
    expect(packer('end')).toBe(true);
    expect(await webImages()).toEqual([]);
    expect(events).not.toContain('launch test web');
  }, 60_000);

  it('stops the child when the parent image is deregistered mid-bake, or loses its launch-test tag (hostile or broken)', async () => {
    const gone = await childOfUntestedParent({ hang: true });
    const first = gone.build();
    await until(() => gone.packer('start'), "web's Packer starting");
    await ec2.send(new DeregisterImageCommand({ ImageId: gone.parentAmi }));
    expect((await first).recipes[0]).toMatchObject({
      status: 'skipped',
      error: `parent base image ${gone.parentAmi} is gone before its launch test passed`,
    });
    expect(gone.packer('interrupt')).toBe(true);

    const untagged = await childOfUntestedParent({ hang: true });
    const second = untagged.build();
    await until(() => untagged.packer('start'), "web's Packer starting");
    await ec2.send(new DeleteTagsCommand({ Resources: [untagged.parentAmi], Tags: [{ Key: 'bake:launch-test' }] }));
    expect((await second).recipes[0]).toMatchObject({
      status: 'skipped',
      error: `parent base image ${untagged.parentAmi} lost its bake:launch-test tag`,
    });
    expect(await untagged.webImages()).toEqual([]);
  }, 60_000);

  it('tests the child only once the parent passed and is recorded (a forged passed tag alone is not enough); then records it', async () => {
    const { parentAmi, build, webImages, events, records, recordParent, looks } = await childOfUntestedParent({});
    const report = build();
    await until(() => events.includes('tag web pending'), "web's image tagged pending");
    // A passed tag without the parent's build record: web's test does not start.
    await ec2.send(
      new CreateTagsCommand({ Resources: [parentAmi], Tags: [{ Key: 'bake:launch-test', Value: 'passed' }] }),
    );
    const seen = looks.count;
    await until(() => looks.count >= seen + 5, 'five more looks at the parent image');
    expect(events).not.toContain('launch test web');
    await recordParent();
    const done = await report;
    expect(done.recipes[0]).toMatchObject({ status: 'built' });
    expect(events.indexOf('launch test web')).toBeGreaterThan(events.indexOf('tag web pending'));
    const [image] = await webImages();
    expect(image.launchTest).toBe('passed');
    expect([...records.records.values()].map((r) => r.imageId)).toContain(image.id);
  }, 60_000);

  it('records a child with launch_test: false only once the parent passed; a failed parent removes it unrecorded', async () => {
    const failing = await childOfUntestedParent({}, false);
    const first = failing.build();
    await until(() => failing.events.includes('tag web -'), "web's image tagged");
    const seen = failing.looks.count;
    await until(() => failing.looks.count >= seen + 3, 'three more looks at the parent image');
    expect(failing.records.records.has(`web ${failing.webFingerprint} ${region}`)).toBe(false);
    await ec2.send(
      new CreateTagsCommand({ Resources: [failing.parentAmi], Tags: [{ Key: 'bake:launch-test', Value: 'failed' }] }),
    );
    expect((await first).recipes[0]).toMatchObject({ status: 'skipped', error: 'parent base failed its launch test' });
    expect(await failing.webImages()).toEqual([]);
    expect(failing.records.records.has(`web ${failing.webFingerprint} ${region}`)).toBe(false);

    const passing = await childOfUntestedParent({}, false);
    const second = passing.build();
    await until(() => passing.events.includes('tag web -'), "web's image tagged");
    await ec2.send(
      new CreateTagsCommand({ Resources: [passing.parentAmi], Tags: [{ Key: 'bake:launch-test', Value: 'passed' }] }),
    );
    await passing.recordParent();
    expect((await second).recipes[0]).toMatchObject({ status: 'built' });
    expect(passing.records.records.get(`web ${passing.webFingerprint} ${region}`)?.imageId).toBe(
      (await passing.webImages())[0].id,
    );
  }, 60_000);

  it('with --launch-test later, leaves the image pending with an untested record, and runs no launch test', async () => {
    const { build, webImages, events, records, webFingerprint } = await childOfUntestedParent({});
    const done = await build({ launchTestLater: true });
    expect(done.recipes[0]).toMatchObject({ status: 'built' });
    expect(buildExitCode(done)).toBe(0);
    const [image] = await webImages();
    expect(image.launchTest).toBe('pending');
    expect(events).not.toContain('launch test web');
    expect(records.records.get(`web ${webFingerprint}.untested ${region}`)?.imageId).toBe(image.id);
    expect(records.records.has(`web ${webFingerprint} ${region}`)).toBe(false);
  }, 60_000);
});
