import { chmod, mkdir, mkdtemp, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FoundImage } from '../../src/aws/image-catalog.js';
import { distributionTag } from '../../src/lifecycle/distribution-settings.js';
import { appendBuildLog, logFileOf } from '../../src/pipeline/build-log.js';
import { readManifest } from '../../src/packer/manifest.js';
import { renderRecipe } from '../../src/packer/render.js';
import { runPackerBuild } from '../../src/packer/runner.js';
import { writePackerVariables } from '../../src/packer/variables.js';
import { pinImages } from '../../src/pipeline/pin.js';
import { lookupGitCommit } from '../../src/git/commit.js';
import {
  buildBakery,
  type BuildDeps,
  type BuildOptions,
  type BuildPlan,
  type PlannedRecipe,
} from '../../src/pipeline/build.js';
import { buildExitCode } from '../../src/pipeline/build-report.js';
import type { Recipe } from '../../src/recipes/model.js';
import { bakeryOf, recipeOf } from './bakery.js';
import { readPackerJournal, type JournalEvent } from './packer-journal.js';

const fakePacker = path.resolve('test/fixtures/pipeline/fake-packer.mjs');

/**
 * A bakery in a temp dir, built with the real renderer, var-file writer, Packer runner and
 * manifest reader; only the `packer` binary is a stand-in (no AMIs without AWS). Tagging and
 * pinning are recorded.
 */
async function setup(script: Record<string, unknown>) {
  const root = await mkdtemp(path.join(tmpdir(), 'bake-build-'));
  const scriptFile = path.join(root, 'fake-packer.json');
  const journal = path.join(root, 'journal.ndjson');
  await mkdir(path.join(root, 'infra'));
  await writeFile(scriptFile, JSON.stringify(script));
  const tagged: Array<{ region: string; ami: string; tags: Record<string, string> }> = [];
  const pinned: Array<{ recipe: string; amis: Record<string, string> }> = [];
  const deps: BuildDeps = {
    render: (recipe, outDir) => renderRecipe(bakeryOf(root, []), recipe, outDir, { shape: 'legacy' }),
    writeVariables: writePackerVariables,
    runPacker: (request) => runPackerBuild({ ...request, bin: fakePacker, graceMs: 10_000 }),
    readManifest: (file) => readManifest(file),
    appendLog: appendBuildLog,
    tagImage: async (region, ami, tags) => void tagged.push({ region, ami, tags }),
    pin: async (requests) => {
      pinned.push(...requests.map((r) => ({ recipe: r.recipe.name, amis: r.amis })));
      return pinImages(requests, { check: false, roots: [root] });
    },
    gitCommit: () => lookupGitCommit(root, { GIT_COMMIT: '0123456789abcdef0123456789abcdef01234567' }),
    now: () => new Date(),
  };
  const options: BuildOptions = {
    runId: 'run-1',
    packerEnv: { FAKE_PACKER_SCRIPT: scriptFile, FAKE_PACKER_JOURNAL: journal },
    buildUrl: 'https://jenkins.example/job/bake/42/',
  };
  const events = async (): Promise<JournalEvent[]> => readPackerJournal(journal);
  return { root, deps, options, tagged, pinned, events };
}

function planned(recipe: Recipe, extra: Partial<PlannedRecipe> = {}): PlannedRecipe {
  return {
    name: recipe.name,
    recipe,
    action: 'build',
    reasons: ['never built'],
    fingerprint: `fp-${recipe.name}-0123456789abcdef`,
    inputs: { roles: 'nginx@3f2a' },
    amis: {},
    baseAmi: recipe.base.kind === 'ami' ? recipe.base.ami : undefined,
    ...extra,
  };
}

const pinTo = (root: string, name: string) => [
  {
    file: `${root}/infra/${name}.auto.tfvars`,
    fileAsWritten: `../infra/${name}.auto.tfvars`,
    variable: `${name}_ami`,
    format: 'map' as const,
    location: { file: 'x', line: 1, col: 1 },
  },
];

function maxConcurrent(events: JournalEvent[]): number {
  let running = 0;
  let peak = 0;
  for (const e of events) {
    if (e.event === 'start') peak = Math.max(peak, ++running);
    if (e.event === 'end' || e.event === 'interrupt') running--;
  }
  return peak;
}

describe('buildBakery', () => {
  it('bakes the parent first and builds the child from the parent’s new AMI, then tags and pins both', async () => {
    const { root, deps, options, tagged, pinned, events } = await setup({
      base: { regions: ['us-east-1', 'eu-west-1'] },
    });
    const base = recipeOf(
      root,
      'base',
      { kind: 'ami', ami: 'ami-0debian12' },
      { regions: ['us-east-1', 'eu-west-1'], pin: pinTo(root, 'base') },
    );
    const web = recipeOf(
      root,
      'web',
      { kind: 'recipe', recipe: 'base' },
      { tags: { team: 'frontend' }, pin: pinTo(root, 'web') },
    );
    // The child is listed first: the DAG, not the list order, decides.
    const plan: BuildPlan = { recipes: [planned(web, { parent: 'base' }), planned(base)] };

    const report = await buildBakery(bakeryOf(root, [base, web]), plan, deps, options);

    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['web', 'built'],
      ['base', 'built'],
    ]);
    const journal = await events();
    expect(journal.filter((e) => e.event === 'start').map((e) => e.recipe)).toEqual(['base', 'web']);
    const baseAmis = report.recipes[1].amis;
    expect(Object.keys(baseAmis)).toEqual(['us-east-1', 'eu-west-1']);
    const webStart = journal.find((e) => e.recipe === 'web' && e.event === 'start')!;
    expect(webStart.source_ami).toBe(baseAmis['us-east-1']);
    expect(webStart.vars).toMatchObject({
      parent_ami: baseAmis['us-east-1'],
      base_ami: 'ami-0debian12',
      git_commit: '0123456789abcdef0123456789abcdef01234567',
    });

    // Every region's image carries the contract tags.
    expect(tagged.map((t) => t.region).sort()).toEqual(['eu-west-1', 'us-east-1', 'us-east-1']);
    const webTags = tagged.find((t) => t.tags['bake:recipe'] === 'web')!.tags;
    expect(webTags).toMatchObject({
      'bake:recipe': 'web',
      'bake:fingerprint': 'fp-web-0123456789abcdef',
      'bake:git-commit': '0123456789abcdef0123456789abcdef01234567',
      'bake:base-ami': 'ami-0debian12',
      'bake:parent': baseAmis['us-east-1'],
      'bake:build-url': 'https://jenkins.example/job/bake/42/',
      'bake:inputs': '{"roles":"nginx@3f2a"}',
      team: 'frontend',
      owner: 'bake-tests',
    });
    expect(webTags['bake:built-at']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(webTags.Name).toMatch(/^web-fp-web-01234-\d{14}$/);
    expect(tagged.find((t) => t.tags['bake:recipe'] === 'base')!.tags['bake:parent']).toBeUndefined();

    expect(report.pin).toMatchObject({ status: 'pinned' });
    expect(pinned).toEqual([
      { recipe: 'web', amis: report.recipes[0].amis },
      { recipe: 'base', amis: baseAmis },
    ]);
    expect(buildExitCode(report)).toBe(0);
    const webTfvars = await readFile(path.join(root, 'infra', 'web.auto.tfvars'), 'utf8');
    expect(webTfvars).toContain(`web_ami = {\n  us-east-1 = "${report.recipes[0].amis['us-east-1']}"\n}`);
    const log = await readFile(report.recipes[0].log!, 'utf8');
    expect(report.recipes[0].log).toBe(path.join(root, '.bake', 'logs', 'run-1', 'web.log'));
    expect(log).toContain('Launching a source AWS instance from');
    expect(log).not.toContain('FAKE_PACKER');
  });

  it("renders into a private .bake/work, removes a successful run's folder, keeps a failed one, and clears folders older than a day", async () => {
    const { root, deps, options } = await setup({ broken: { fail: true } });
    const work = path.join(root, '.bake', 'work');
    await mkdir(path.join(work, 'old-run', 'web'), { recursive: true });
    await mkdir(path.join(work, 'yesterday-noon'), { recursive: true });
    const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000);
    await utimes(path.join(work, 'old-run'), twoDaysAgo, twoDaysAgo);
    await chmod(work, 0o755);

    const base = recipeOf(root, 'base', { kind: 'ami', ami: 'ami-0debian12' });
    const ok = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, {
      ...options,
      runId: 'run-ok',
    });
    expect(ok.recipes[0].status).toBe('built');
    expect((await stat(work)).mode & 0o777).toBe(0o700);
    expect((await readdir(work)).sort()).toEqual(['yesterday-noon']);

    const broken = recipeOf(root, 'broken', { kind: 'ami', ami: 'ami-0debian12' });
    const failed = await buildBakery(bakeryOf(root, [broken]), { recipes: [planned(broken)] }, deps, {
      ...options,
      runId: 'run-failed',
    });
    expect(failed.recipes[0].status).toBe('failed');
    expect((await readdir(work)).sort()).toEqual(['run-failed', 'yesterday-noon']);
    expect(await readdir(path.join(work, 'run-failed', 'broken'))).toContain('broken.pkr.hcl');
  });

  it('pins only the first environment of the bakery, and records the pin on the images', async () => {
    const { root, deps, options } = await setup({});
    const recorded: Array<{ environment: string; recipes: string[] }> = [];
    deps.recordPins = async (environment, requests) =>
      void recorded.push({ environment, recipes: requests.map((r) => r.recipe.name) });
    const target = (environment: string) => ({ ...pinTo(root, `base-${environment}`)[0], environment });
    const base = recipeOf(
      root,
      'base',
      { kind: 'ami', ami: 'ami-0debian12' },
      { pin: [target('dev'), target('prod')] },
    );
    const plan: BuildPlan = {
      recipes: [planned(base, { action: 'reuse', reasons: [], amis: { 'us-east-1': 'ami-0123456789abcdef0' } })],
    };
    const bakery = bakeryOf(root, [base]);
    bakery.config.environments = ['dev', 'prod'];
    const report = await buildBakery(bakery, plan, deps, options);
    expect(report.pin, JSON.stringify(report.pin)).toMatchObject({ status: 'pinned' });
    expect(await readFile(path.join(root, 'infra', 'base-dev.auto.tfvars'), 'utf8')).toContain('ami-0123456789abcdef0');
    await expect(stat(path.join(root, 'infra', 'base-prod.auto.tfvars'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(recorded).toEqual([{ environment: 'dev', recipes: ['base'] }]);
  });

  it('reports reused recipes with their current AMIs, builds a child of a reused parent from that AMI, and pins both', async () => {
    const { root, deps, options, pinned, events } = await setup({});
    const base = recipeOf(root, 'base', { kind: 'ami', ami: 'ami-0debian12' }, { pin: pinTo(root, 'base') });
    const web = recipeOf(root, 'web', { kind: 'recipe', recipe: 'base' });
    const plan: BuildPlan = {
      recipes: [
        planned(base, { action: 'reuse', reasons: [], amis: { 'us-east-1': 'ami-0current' } }),
        planned(web, { parent: 'base' }),
      ],
    };
    const report = await buildBakery(bakeryOf(root, [base, web]), plan, deps, options);
    expect(report.recipes[0]).toMatchObject({
      name: 'base',
      status: 'reused',
      amis: { 'us-east-1': 'ami-0current' },
      duration_s: 0,
    });
    expect((await events()).find((e) => e.event === 'start')!.source_ami).toBe('ami-0current');
    expect(pinned.map((p) => p.recipe)).toEqual(['base']);
  });

  it('starts a child on its parent’s build-region image while the parent is still being copied, without a slot; pins after every copy', async () => {
    const { root, deps, options, pinned, events } = await setup({ api: { regions: ['eu-west-1'] } });
    const base = recipeOf(
      root,
      'base',
      { kind: 'ami', ami: 'ami-0debian12' },
      { regions: ['us-east-1', 'eu-west-1'], pin: pinTo(root, 'base') },
    );
    const web = recipeOf(root, 'web', { kind: 'recipe', recipe: 'base' }, { pin: pinTo(root, 'web') });
    // A child building in eu-west-1 needs the parent's copy there: it waits for the distribution.
    const api = recipeOf(root, 'api', { kind: 'recipe', recipe: 'base' }, { regions: ['eu-west-1'] });
    const started: string[] = [];
    let releaseCopies!: () => void;
    const copiesMayFinish = new Promise<void>((resolve) => (releaseCopies = resolve));
    const baseCopied = new Promise<void>((resolve) => {
      deps.distribute = async (request) => {
        if (request.recipe.name !== 'base') return { amis: request.amis, regions: [] };
        started.push('base distribution');
        // Held until web has been baked: with one slot, web can only bake while base's copy is under way.
        await copiesMayFinish;
        resolve();
        return { amis: { ...request.amis, 'eu-west-1': 'ami-0copy' }, regions: [] };
      };
    });
    const webBaked = new Promise<void>((resolve) => {
      const tagImage = deps.tagImage;
      deps.tagImage = async (region, ami, tags) => {
        await tagImage(region, ami, tags);
        if (tags['bake:recipe'] === 'web') resolve();
      };
    });
    const running = buildBakery(
      bakeryOf(root, [base, web, api]),
      { recipes: [planned(base), planned(web, { parent: 'base' }), planned(api, { parent: 'base' })] },
      deps,
      {
        ...options,
        concurrency: 1,
      },
    );
    await webBaked;
    expect((await events()).filter((e) => e.event === 'start').map((e) => e.recipe)).toEqual(['base', 'web']);
    expect(pinned).toEqual([]);
    releaseCopies();
    await baseCopied;
    const report = await running;

    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'built'],
      ['web', 'built'],
      ['api', 'built'],
    ]);
    const journal = await events();
    expect(journal.filter((e) => e.event === 'start').map((e) => e.recipe)).toEqual(['base', 'web', 'api']);
    expect(journal.find((e) => e.recipe === 'api' && e.event === 'start')!.source_ami).toBe('ami-0copy');
    expect(report.recipes[0].amis['eu-west-1']).toBe('ami-0copy');
    expect(pinned.map((p) => p.recipe)).toEqual(['base', 'web']);
    expect(pinned[0].amis).toEqual(report.recipes[0].amis);
  });

  /** base, whose Packer is held in its cleanup until `cleanupMayEnd` exists, and web built from it; two slots. */
  async function heldInCleanup(script: Record<string, unknown>, baseRegions = ['us-east-1']) {
    const s = await setup({});
    const cleanupMayEnd = path.join(s.root, 'cleanup-may-end');
    await writeFile(
      path.join(s.root, 'fake-packer.json'),
      JSON.stringify({ base: { cleanupUntil: cleanupMayEnd, ...script } }),
    );
    const base = recipeOf(
      s.root,
      'base',
      { kind: 'ami', ami: 'ami-0debian12' },
      { regions: baseRegions, pin: pinTo(s.root, 'base') },
    );
    const web = recipeOf(s.root, 'web', { kind: 'recipe', recipe: 'base' }, { pin: pinTo(s.root, 'web') });
    const build = () =>
      buildBakery(
        bakeryOf(s.root, [base, web]),
        { recipes: [planned(base), planned(web, { parent: 'base' })] },
        s.deps,
        { ...s.options, concurrency: 2 },
      );
    const until = async (recipe: string, event: JournalEvent['event']) => {
      while (!(await s.events()).some((e) => e.recipe === recipe && e.event === event))
        await new Promise((r) => setTimeout(r, 20));
    };
    return { ...s, cleanupMayEnd, build, until };
  }

  it('starts the child and the copies on the parent’s finished image while its Packer still cleans up; the bake ends when Packer exits', async () => {
    const { deps, tagged, pinned, events, cleanupMayEnd, build, until } = await heldInCleanup({}, [
      'us-east-1',
      'eu-west-1',
    ]);
    const distributed: string[] = [];
    deps.distribute = async (request) => {
      distributed.push(request.recipe.name);
      return { amis: { ...request.amis, 'eu-west-1': `ami-0copy-${request.recipe.name}` }, regions: [] };
    };
    const running = build();
    // web bakes and base is copied while base's Packer is held in its cleanup.
    await until('web', 'end');
    const during = await events();
    expect(during.filter((e) => e.recipe === 'base').map((e) => e.event)).toEqual(['start', 'cleanup']);
    const baseAmi = tagged.find((t) => t.tags['bake:recipe'] === 'base')!.ami;
    expect(during.find((e) => e.recipe === 'web' && e.event === 'start')!.source_ami).toBe(baseAmi);
    expect(distributed).toContain('base');
    expect(pinned).toEqual([]);
    await writeFile(cleanupMayEnd, '');
    const report = await running;

    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'built'],
      ['web', 'built'],
    ]);
    expect(report.recipes[0].amis).toEqual({ 'us-east-1': baseAmi, 'eu-west-1': 'ami-0copy-base' });
    expect(await readFile(report.recipes[0].log!, 'utf8')).toContain(
      `${baseAmi} is finished while Packer cleans up: tagging it, then its children and copies may start`,
    );
    expect(pinned.map((p) => p.recipe)).toEqual(['base', 'web']);
  });

  it('fails the parent and the run when its Packer fails after the image was finished: the child already baking is built, nothing is pinned', async () => {
    const { deps, pinned, cleanupMayEnd, build, until } = await heldInCleanup({ failInCleanup: true });
    deps.distribute = async (request) => ({ amis: request.amis, regions: [] });
    const running = build();
    await until('web', 'start');
    await writeFile(cleanupMayEnd, '');
    const report = await running;

    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'failed'],
      ['web', 'built'],
    ]);
    expect(report.recipes[0].error).toMatch(/packer build failed/);
    expect(report.recipes[0].log_tail!.join('\n')).toMatch(/post-processor failed/);
    expect(report.pin).toMatchObject({ status: 'skipped', reason: 'a recipe failed' });
    expect(pinned).toEqual([]);
    expect(buildExitCode(report)).toBe(1);
  });

  it('skips a child still waiting for a slot when its parent’s Packer fails after the image was finished', async () => {
    const { root, deps, options, events } = await setup({ base: { failInCleanup: true } });
    const base = recipeOf(root, 'base', { kind: 'ami', ami: 'ami-0debian12' });
    const web = recipeOf(root, 'web', { kind: 'recipe', recipe: 'base' });
    deps.distribute = async (request) => ({ amis: request.amis, regions: [] });
    // One slot, held by base until its Packer exits: web cannot start before base has failed.
    const report = await buildBakery(
      bakeryOf(root, [base, web]),
      { recipes: [planned(base), planned(web, { parent: 'base' })] },
      deps,
      { ...options, concurrency: 1 },
    );
    expect(report.recipes.map((r) => [r.name, r.status, r.error])).toEqual([
      ['base', 'failed', expect.stringMatching(/packer build failed/)],
      ['web', 'skipped', 'parent base failed'],
    ]);
    expect((await events()).filter((e) => e.event === 'start').map((e) => e.recipe)).toEqual(['base']);
  });

  it('fails the run when a parent’s copy fails, though its child (already started from the build-region image) is built; pins nothing', async () => {
    const { root, deps, options, pinned } = await setup({});
    const base = recipeOf(
      root,
      'base',
      { kind: 'ami', ami: 'ami-0debian12' },
      { regions: ['us-east-1', 'eu-west-1'], pin: pinTo(root, 'base') },
    );
    const web = recipeOf(root, 'web', { kind: 'recipe', recipe: 'base' }, { pin: pinTo(root, 'web') });
    deps.distribute = async (request) => {
      if (request.recipe.name === 'base') throw new Error('CopyImage to eu-west-1: RequestLimitExceeded');
      return { amis: request.amis, regions: [] };
    };
    const report = await buildBakery(
      bakeryOf(root, [base, web]),
      { recipes: [planned(base), planned(web, { parent: 'base' })] },
      deps,
      options,
    );
    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'failed'],
      ['web', 'built'],
    ]);
    expect(report.recipes[0].error).toMatch(/RequestLimitExceeded/);
    expect(await readFile(report.recipes[0].log!, 'utf8')).toContain(
      '# bake: base stopped: CopyImage to eu-west-1: RequestLimitExceeded',
    );
    expect(report.pin).toMatchObject({ status: 'skipped', reason: 'a recipe failed' });
    expect(pinned).toEqual([]);
    expect(buildExitCode(report)).toBe(1);
  });

  it('never runs more than --concurrency packers at once', async () => {
    // a and b each wait until the other has started: they can only finish if 2 run side by side.
    const { root, deps, options, events } = await setup({ a: { waitFor: ['b'] }, b: { waitFor: ['a'] } });
    const recipes = ['a', 'b', 'c', 'd'].map((name) => recipeOf(root, name, { kind: 'ami', ami: 'ami-0debian12' }));
    const report = await buildBakery(bakeryOf(root, recipes), { recipes: recipes.map((r) => planned(r)) }, deps, {
      ...options,
      concurrency: 2,
    });
    expect(report.recipes.every((r) => r.status === 'built')).toBe(true);
    expect(maxConcurrent(await events())).toBe(2);
  });

  it('gives a bake’s slot back once Packer stops its instance: the next bake starts while the first one’s image is still being made', async () => {
    // With one slot, web's Packer only ends after db's started: db must start without waiting for web's end.
    const { root, deps, options, events } = await setup({ web: { stopsBeforeWaiting: true, waitFor: ['db'] }, db: {} });
    const web = recipeOf(root, 'web', { kind: 'ami', ami: 'ami-0debian12' });
    const db = recipeOf(root, 'db', { kind: 'ami', ami: 'ami-0debian12' });
    const report = await buildBakery(bakeryOf(root, [web, db]), { recipes: [planned(web), planned(db)] }, deps, {
      ...options,
      concurrency: 1,
    });
    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['web', 'built'],
      ['db', 'built'],
    ]);
    expect((await events()).map((e) => `${e.recipe} ${e.event}`).slice(0, 2)).toEqual(['web start', 'db start']);
  }, 60_000);

  it('starts the longest chain of last bake times first when slots are short', async () => {
    // Listed first and as deep, quick has the shorter chain: 60 s against slow's 100 s + its child's 500 s.
    const { root, deps, options, events } = await setup({});
    const quick = recipeOf(root, 'quick', { kind: 'ami', ami: 'ami-0debian12' });
    const slow = recipeOf(root, 'slow', { kind: 'ami', ami: 'ami-0debian12' });
    const child = recipeOf(root, 'child', { kind: 'recipe', recipe: 'slow' });
    const quickChild = recipeOf(root, 'quick-child', { kind: 'recipe', recipe: 'quick' });
    const plan = {
      recipes: [
        planned(quick, { lastBakeSeconds: 60 }),
        planned(slow, { lastBakeSeconds: 100 }),
        planned(quickChild, { parent: 'quick', lastBakeSeconds: 60 }),
        planned(child, { parent: 'slow', lastBakeSeconds: 500 }),
      ],
    };
    const report = await buildBakery(bakeryOf(root, [quick, slow, quickChild, child]), plan, deps, {
      ...options,
      concurrency: 1,
    });
    expect(report.recipes.every((r) => r.status === 'built')).toBe(true);
    expect((await events()).filter((e) => e.event === 'start').map((e) => e.recipe)[0]).toBe('slow');
  }, 60_000);

  it('a failure skips the failed recipe’s children, lets a sibling finish, pins nothing and exits 1', async () => {
    const { root, deps, options, pinned, tagged } = await setup({ base: { fail: true } });
    const base = recipeOf(root, 'base', { kind: 'ami', ami: 'ami-0debian12' }, { pin: pinTo(root, 'base') });
    const web = recipeOf(root, 'web', { kind: 'recipe', recipe: 'base' }, { pin: pinTo(root, 'web') });
    const db = recipeOf(root, 'db', { kind: 'ami', ami: 'ami-0debian12' }, { pin: pinTo(root, 'db') });
    const plan: BuildPlan = { recipes: [planned(base), planned(web, { parent: 'base' }), planned(db)] };

    const report = await buildBakery(bakeryOf(root, [base, web, db]), plan, deps, options);

    const [baseResult, webResult, dbResult] = report.recipes;
    expect(baseResult.status).toBe('failed');
    expect(baseResult.error).toMatch(/^packer build failed \(exit 1\); see .*base\.log$/);
    expect(baseResult.log_tail!.join('\n')).toContain(`fatal: "<boom> & 'quotes'"`);
    expect(baseResult.log_tail!.length).toBeLessThanOrEqual(20);
    expect(webResult).toMatchObject({ status: 'skipped', error: 'parent base failed', amis: {} });
    expect(webResult.log).toBeUndefined();
    expect(dbResult.status).toBe('built');
    expect(tagged.map((t) => t.tags['bake:recipe'])).toEqual(['db']);
    expect(pinned).toEqual([]);
    expect(report.pin).toEqual({ status: 'skipped', reason: 'a recipe failed' });
    expect(buildExitCode(report)).toBe(1);
  });

  it('reports a refused pin as a failure of the run, with the built AMIs still in the report', async () => {
    const { root, deps, options } = await setup({});
    const target = { ...pinTo(root, 'base')[0], file: `${root}/missing-dir/base.auto.tfvars` };
    const base = recipeOf(root, 'base', { kind: 'ami', ami: 'ami-0debian12' }, { pin: [target] });
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, options);
    expect(report.recipes[0].status).toBe('built');
    expect(report.recipes[0].amis['us-east-1']).toMatch(/^ami-/);
    expect(report.pin.status).toBe('failed');
    expect(report.pin.reason).toMatch(/missing-dir.*does not exist/);
    expect(buildExitCode(report)).toBe(1);
  });

  it('does not pin with --no-pin', async () => {
    const { root, deps, options, pinned } = await setup({});
    const base = recipeOf(root, 'base', { kind: 'ami', ami: 'ami-0debian12' }, { pin: pinTo(root, 'base') });
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, {
      ...options,
      pin: false,
    });
    expect(report.pin).toEqual({ status: 'skipped', reason: '--no-pin' });
    expect(pinned).toEqual([]);
    expect(buildExitCode(report)).toBe(0);
  });

  it('an interruption stops the running packer, starts nothing new and pins nothing', async () => {
    const { root, deps, options, pinned, events } = await setup({ base: { hang: true } });
    const base = recipeOf(root, 'base', { kind: 'ami', ami: 'ami-0debian12' }, { pin: pinTo(root, 'base') });
    const web = recipeOf(root, 'web', { kind: 'recipe', recipe: 'base' });
    const db = recipeOf(root, 'db', { kind: 'ami', ami: 'ami-0debian12' });
    const controller = new AbortController();
    const progress = {
      planned() {},
      started() {},
      line(_name: string, text: string) {
        if (text.includes('(hanging)')) controller.abort();
      },
      settled() {},
      note() {},
      close: async () => {},
    };
    const plan: BuildPlan = { recipes: [planned(base), planned(web, { parent: 'base' }), planned(db)] };

    const report = await buildBakery(bakeryOf(root, [base, web, db]), plan, deps, {
      ...options,
      concurrency: 1,
      signal: controller.signal,
      progress,
    });

    expect(report.interrupted).toBe(true);
    expect(report.recipes.map((r) => r.status)).toEqual(['aborted', 'aborted', 'aborted']);
    expect(report.recipes[0].log).toBeDefined();
    expect(report.recipes[2].log).toBeUndefined();
    const journal = await events();
    expect(journal.map((e) => `${e.recipe} ${e.event}`)).toEqual(['base start', 'base interrupt']);
    expect(() => process.kill(journal[0].pid, 0)).toThrow();
    expect(pinned).toEqual([]);
    expect(report.pin).toEqual({ status: 'skipped', reason: 'run interrupted' });
    expect(buildExitCode(report)).toBe(1);
  });

  it('fails a recipe whose manifest lacks one of its regions, still tagging the image that exists', async () => {
    const { root, deps, options, tagged } = await setup({ base: { regions: ['us-east-1'] } });
    const base = recipeOf(root, 'base', { kind: 'ami', ami: 'ami-0debian12' }, { regions: ['us-east-1', 'eu-west-1'] });
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, options);
    expect(report.recipes[0].status).toBe('failed');
    expect(report.recipes[0].error).toMatch(/manifest has no image for eu-west-1/);
    expect(await readFile(report.recipes[0].log!, 'utf8')).toContain('# bake: base stopped: ');
    expect(tagged.map((t) => t.region)).toEqual(['us-east-1']);
  });
});

describe('a recipe step under the recipe’s lock (another job may have done it meanwhile)', () => {
  const TWO = ['us-east-1', 'eu-west-1'];
  /** A lock that records who held it, and EC2's images of the fingerprint as another job left them. */
  async function locked(found: Record<string, FoundImage>) {
    const s = await setup({ base: { regions: TWO } });
    const held: string[] = [];
    const distributed: Array<Record<string, string>> = [];
    s.deps.lockRecipe = async (entry) => {
      held.push(`take ${entry.name}`);
      return async () => void held.push(`release ${entry.name}`);
    };
    s.deps.findImages = async () => found;
    s.deps.distribute = async (request) => {
      distributed.push(request.amis);
      return {
        amis: Object.fromEntries(TWO.map((region) => [region, request.amis[region] ?? `ami-copy-${region}`])),
        regions: [],
      };
    };
    const base = recipeOf(s.root, 'base', { kind: 'ami', ami: 'ami-0debian12' }, { regions: TWO });
    return { ...s, base, held, distributed, settled: distributionTag(base) };
  }

  it('reuses another job’s images when they are in every region with their settings: no bake, no copy', async () => {
    const probe = await locked({});
    const found = Object.fromEntries(
      TWO.map((region) => [region, { imageId: `ami-other-${region}`, distribution: probe.settled }]),
    );
    const { root, base, deps, options, events, held, distributed } = await locked(found);
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, options);
    expect(report.recipes.map((r) => [r.status, r.amis, r.reasons.at(-1)])).toEqual([
      [
        'reused',
        { 'us-east-1': 'ami-other-us-east-1', 'eu-west-1': 'ami-other-eu-west-1' },
        'baked meanwhile by another job',
      ],
    ]);
    expect(await events()).toEqual([]);
    expect(distributed).toEqual([]);
    expect(held).toEqual(['take base', 'release base']);
  });

  it('finishes another job’s unfinished distribution instead of baking again', async () => {
    const { root, base, deps, options, events, distributed } = await locked({
      'us-east-1': { imageId: 'ami-other-us-east-1' },
    });
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, options);
    expect(report.recipes[0].status).toBe('reused');
    expect(await events()).toEqual([]);
    expect(distributed).toEqual([{ 'us-east-1': 'ami-other-us-east-1' }]);
    expect(await readFile(logFileOf(root, 'run-1', 'base'), 'utf8')).toContain(
      'was baked meanwhile by another job: us-east-1 ami-other-us-east-1; finishing its distribution',
    );
  });

  it('takes the lock for a distribute-only recipe too, and reuses a distribution another job finished', async () => {
    const probe = await locked({});
    const found = Object.fromEntries(
      TWO.map((region) => [region, { imageId: `ami-mine-${region}`, distribution: probe.settled }]),
    );
    const { root, base, deps, options, held, distributed } = await locked(found);
    const entry = planned(base, {
      amis: { 'us-east-1': 'ami-mine-us-east-1' },
      distributeOnly: { region: 'us-east-1', ami: 'ami-mine-us-east-1' },
    });
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [entry] }, deps, options);
    expect(report.recipes.map((r) => [r.status, r.reasons.at(-1)])).toEqual([
      ['reused', 'baked meanwhile by another job'],
    ]);
    expect(distributed).toEqual([]);
    expect(held).toEqual(['take base', 'release base']);
    expect(await readFile(logFileOf(root, 'run-1', 'base'), 'utf8')).toContain(
      'was distributed meanwhile by another job',
    );
  });

  it('distributes a distribute-only recipe under the lock when nobody did', async () => {
    const { root, base, deps, options, held, distributed } = await locked({
      'us-east-1': { imageId: 'ami-mine-us-east-1' },
    });
    deps.distribute = async (request) => {
      held.push('distributing');
      distributed.push(request.amis);
      return { amis: { ...request.amis, 'eu-west-1': 'ami-copy-eu-west-1' }, regions: [] };
    };
    const entry = planned(base, {
      amis: { 'us-east-1': 'ami-mine-us-east-1' },
      distributeOnly: { region: 'us-east-1', ami: 'ami-mine-us-east-1' },
    });
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [entry] }, deps, options);
    expect(report.recipes.map((r) => [r.status, r.amis])).toEqual([
      ['built', { 'us-east-1': 'ami-mine-us-east-1', 'eu-west-1': 'ami-copy-eu-west-1' }],
    ]);
    expect(held).toEqual(['take base', 'distributing', 'release base']);
  });
});
