/**
 * `npm run bench`: how fast `bake plan` fingerprints a large bakery, compared with the naive way
 * (read and sha256 every role file), and how many EC2 calls a plan makes. Everything happens in
 * a temp dir: a generated bakery of 1,000 recipes and 3,000 roles (60,000 files) in git, and the
 * embedded local cloud holding ~2,000 bake images. Last, `--changed-since` on the same bakery.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { createOutput } from '../io/output.js';
import { resolveBaseImage } from '../aws/base-image.js';
import { createImageCatalog } from '../aws/image-catalog.js';
import { createBuildRecords } from '../aws/build-records.js';
import type { ImageCatalog, ImageRecord } from '../aws/image-record.js';
import { gitContentIds, hashedContentIds } from '../fingerprint/content-ids.js';
import { gitHistory } from '../fingerprint/history.js';
import { watchedFolders } from '../fingerprint/fingerprint.js';
import { startLocalCloud } from '../local-cloud/index.js';
import type { InstanceHost } from '../local-cloud/instance-host.js';
import { baseImageId, machineImageDefaults, seedRegion } from '../local-cloud/ec2-api/seed.js';
import { StateFile } from '../local-cloud/ec2-api/state-file.js';
import { distributionTag } from '../lifecycle/distribution-settings.js';
import { DISTRIBUTION_TAG } from '../tags/tag-contract.js';
import { buildRecordName, formatBuildRecord } from '../tags/build-record.js';
import { storedParameters } from '../local-cloud/ec2-api/parameter-store.js';
import { SELF_ACCOUNT, setTags } from '../local-cloud/ec2-api/state.js';
import { changedSince } from '../pipeline/changed-since.js';
import { planBakery, type Plan, type PlanDeps } from '../pipeline/plan.js';
import type { Bakery } from '../recipes/model.js';
import { generateBakery, type BakerySize } from './generate-bakery.js';
import { simulatedAwsBench } from './simulated-aws.js';

const SIZE: BakerySize = {
  recipes: Number(process.env.BAKE_BENCH_RECIPES ?? 1000),
  roles: Number(process.env.BAKE_BENCH_ROLES ?? 3000),
  filesPerRole: 20,
};

// The SDK's notice about its future Node support would interleave with the numbers.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The numbers are the answer: stdout, as they are (no timestamps).
const output = createOutput({ json: false });
const say = (line: string) => output.text(`${line}\n`);
const ms = (t: number) => `${t.toFixed(0)} ms`;

async function timed<T>(body: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await body();
  return [value, performance.now() - start];
}

/** The naive way: read every role file and sha256 it. */
async function hashEveryRoleFile(root: string): Promise<number> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else files.push(full);
    }
  };
  await walk(path.join(root, 'roles'));
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < files.length)
        createHash('sha256')
          .update(await readFile(files[next++]))
          .digest('hex');
    }),
  );
  return files.length;
}

/** No instances are launched by a plan: a host that refuses everything keeps the bench honest. */
const planOnlyHost: InstanceHost = {
  launch: () => Promise.reject(new Error('the plan bench launches no instances')),
  stop: () => Promise.reject(new Error('unused')),
  start: () => Promise.reject(new Error('unused')),
  capture: () => Promise.reject(new Error('unused')),
  alias: () => Promise.reject(new Error('unused')),
  terminate: () => Promise.reject(new Error('unused')),
  deleteImage: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

const emptyCatalog: ImageCatalog = { listBakedImages: async () => [] as ImageRecord[] };
const noRecords: PlanDeps['records'] = { read: async () => new Map() };

function offlineDeps(bakery: Bakery, generatorVersion?: string): PlanDeps {
  return {
    catalog: emptyCatalog,
    records: noRecords,
    resolveBase: async (_base, region) => baseImageId(region),
    contentIds: gitContentIds(bakery.root),
    generatorVersion,
  };
}

/**
 * Puts bake images into the local cloud's state: for every recipe an older image (made by an
 * older generator, so its fingerprint differs) and, for 90% of them, one per region with today's
 * fingerprint. The other 10% must be rebuilt, with reasons.
 */
async function seedImages(
  stateDir: string,
  bakeryName: string,
  current: Plan,
  old: Plan,
  commit: string,
): Promise<number> {
  await mkdir(stateDir, { recursive: true });
  const file = new StateFile(stateDir);
  const state = file.load();
  for (const region of ['us-east-1', 'eu-west-1']) seedRegion(state, region);
  let n = 0;
  const add = (entry: Plan['recipes'][number], region: string, created: string) => {
    const imageId = `ami-${(++n).toString(16).padStart(17, '0')}`;
    state.images.push({
      imageId,
      region,
      name: `${entry.name}-${entry.fingerprint}-${n}`,
      ownerId: SELF_ACCOUNT,
      state: 'available',
      creationDate: created,
      ...machineImageDefaults,
      blockDevices: [],
      launchPermissions: [],
      hostImage: 'base',
    });
    setTags(state, imageId, [
      ['Name', `${entry.name}-${entry.fingerprint}`],
      ['bake:recipe', entry.name],
      ['bake:fingerprint', entry.fingerprint],
      ['bake:git-commit', commit],
      ['bake:base-ami', entry.baseAmi || baseImageId(region)],
      ['bake:inputs', entry.inputs],
      [DISTRIBUTION_TAG, distributionTag(entry.recipe)],
    ]);
  };
  current.recipes.forEach((entry, i) => {
    add(old.recipes[i], entry.recipe.regions[0], '2026-10-01T00:00:00.000Z');
    if (i % 10 !== 9)
      for (const region of entry.recipe.regions) {
        add(entry, region, '2026-11-02T00:00:00.000Z');
        // As a build leaves it: the image recorded under the bakery's path (src/tags/build-record.ts).
        const record = { imageId: `ami-${n.toString(16).padStart(17, '0')}`, runId: 'bench', recordedAt: '' };
        storedParameters(state).push({
          name: buildRecordName(bakeryName, entry.name, entry.fingerprint),
          region,
          type: 'String',
          dataType: 'text',
          value: formatBuildRecord(record),
          version: 1,
          lastModified: '2026-11-02T00:00:00.000Z',
        });
      }
  });
  file.save(state);
  return n;
}

async function main(): Promise<void> {
  // BAKE_BENCH_ONLY=aws: scenario (e) alone, without the plan benches' 60,000-file bakery.
  if (process.env.BAKE_BENCH_ONLY === 'aws') return simulatedAwsBench(say);
  const dir = await mkdtemp(path.join(tmpdir(), 'bake-bench-'));
  try {
    say(`bake plan bench: ${SIZE.recipes} recipes, ${SIZE.roles} roles × ${SIZE.filesPerRole} files, in ${dir}`);
    const [bakery, generateMs] = await timed(() => generateBakery(dir, SIZE));
    const env = {
      GIT_AUTHOR_NAME: 'bench',
      GIT_AUTHOR_EMAIL: 'bench@example.com',
      GIT_COMMITTER_NAME: 'bench',
      GIT_COMMITTER_EMAIL: 'bench@example.com',
    };
    const [, gitMs] = await timed(async () => {
      await execa('git', ['init', '-q', '-b', 'main'], { cwd: dir });
      await execa('git', ['add', '-A'], { cwd: dir, env });
      await execa('git', ['-c', 'gc.auto=0', 'commit', '-q', '-m', 'bench bakery'], { cwd: dir, env });
    });
    const commit = (await execa('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
    say(`setup (not counted): generate ${ms(generateMs)}, git init + commit ${ms(gitMs)}`);

    const [files, baselineMs] = await timed(() => hashEveryRoleFile(dir));
    say(`(a) baseline, sha256 of every role file read from disk: ${files} files in ${ms(baselineMs)}`);

    const [coldPlan, coldMs] = await timed(() => planBakery(bakery, bakery.recipes, offlineDeps(bakery)));
    const [, warmMs] = await timed(() => planBakery(bakery, bakery.recipes, offlineDeps(bakery)));
    say(
      `(b) plan fingerprinting (git blob ids, ${coldPlan.recipes.length} recipes): cold ${ms(coldMs)} (first plan in this process), warm ${ms(warmMs)} (again, same process)`,
    );
    say(`    ratio plan/baseline: cold ${(coldMs / baselineMs).toFixed(2)}, warm ${(warmMs / baselineMs).toFixed(2)}`);
    const [, hashedMs] = await timed(() =>
      planBakery(bakery, bakery.recipes, { ...offlineDeps(bakery), contentIds: hashedContentIds(dir) }),
    );
    say(`    same plan hashing every file instead of asking git (a bakery outside git): ${ms(hashedMs)}`);

    const oldPlan = await planBakery(bakery, bakery.recipes, offlineDeps(bakery, 'old-generator'));
    const stateDir = path.join(dir, '.bake', 'local');
    const images = await seedImages(stateDir, bakery.config.bakery, coldPlan, oldPlan, commit);
    const cloud = await startLocalCloud({ stateDir, host: planOnlyHost });
    try {
      const aws = { endpoint: cloud.endpoint, region: 'us-east-1', credentials: cloud.credentials };
      const deps = (): PlanDeps => ({
        catalog: createImageCatalog(aws),
        records: createBuildRecords(aws, bakery.config.bakery),
        resolveBase: (base, region) => resolveBaseImage(aws, base, region),
        contentIds: gitContentIds(dir),
        history: gitHistory(dir, watchedFolders(bakery)),
      });
      cloud.calls.clear();
      const [ec2Plan, ec2Ms] = await timed(() => planBakery(bakery, bakery.recipes, deps()));
      const calls = [...cloud.calls.entries()].map(([action, count]) => `${action} ×${count}`).join(', ');
      const total = [...cloud.calls.values()].reduce((a, b) => a + b, 0);
      const building = ec2Plan.recipes.filter((e) => e.action === 'build');
      say(
        `(c) plan against the local cloud (real EC2 API over HTTP) holding ${images} bake images: ${ms(ec2Ms)}, ${total} EC2 calls (${calls})`,
      );
      say(
        `    ${building.length} to build, ${ec2Plan.recipes.length - building.length} to reuse; e.g. ${building[0]?.name}: ${building[0]?.reasons.join('; ')}`,
      );

      // One shared role edited (not committed): which recipes does it rebuild, and how fast is that plan?
      const shared = path.join(dir, 'roles', 'role-0003', 'defaults', 'main.yml');
      await writeFile(shared, `${await readFile(shared, 'utf8')}role_0003_extra: true\n`);
      cloud.calls.clear();
      const [edited, editedMs] = await timed(() => planBakery(bakery, bakery.recipes, deps()));
      const rebuilt = edited.recipes.filter((e) => e.action === 'build').length;
      const sample = edited.recipes.find((e) => e.reasons.some((r) => r.startsWith('role role-0003')));
      say(
        `    after editing one shared role file: ${ms(editedMs)}, ${rebuilt} to build, ${[...cloud.calls.values()].reduce((a, b) => a + b, 0)} EC2 calls; e.g. ${sample?.name}: ${sample?.reasons.join('; ')}`,
      );

      // bake plan --changed-since HEAD: HEAD's fingerprints from git's blob ids, against the work tree's.
      const [changes, changedMs] = await timed(() => changedSince(bakery, 'HEAD'));
      say(
        `(d) --changed-since HEAD after that edit: ${ms(changedMs)} to find ${changes.changed.size} changed recipes (the plan above says ${rebuilt} to build); ratio to that plan ${(changedMs / editedMs).toFixed(2)}`,
      );
    } finally {
      await cloud.close();
    }
    await simulatedAwsBench(say);
    say(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
}

await main();
