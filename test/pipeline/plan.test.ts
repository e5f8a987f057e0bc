import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gitContentIds } from '../../src/fingerprint/content-ids.js';
import { gitHistory } from '../../src/fingerprint/history.js';
import { watchedFolders } from '../../src/fingerprint/fingerprint.js';
import { currentImages, planBakery, type Plan, type PlanDeps, type RecipePlan } from '../../src/pipeline/plan.js';
import type { BaseImage, Bakery } from '../../src/recipes/model.js';
import { generatorChangeNote, planJson, planLines } from '../../src/pipeline/plan-report.js';
import { BakeryRepo, MemoryCatalog } from './bakery-repo.js';
import { assertMatchesSchema } from '../schema/json-schemas.js';

let repo: BakeryRepo;
let catalog: MemoryCatalog;
let bases: Record<string, { imageId: string; name: string }>;
let resolved: string[];

beforeEach(async () => {
  repo = await BakeryRepo.create();
  catalog = new MemoryCatalog();
  bases = { 'us-east-1': { imageId: 'ami-0aaaaaaaaaaaaaaa1', name: 'debian-12-amd64-20261101-1' } };
  resolved = [];
});
afterEach(() => repo.close());

function deps(overrides: Partial<PlanDeps> = {}): PlanDeps {
  return {
    catalog,
    records: catalog,
    resolveBase: async (base: BaseImage, region: string) => {
      resolved.push(`${base.kind}@${region}`);
      return bases[region];
    },
    contentIds: gitContentIds(repo.root),
    history: gitHistory(repo.root, ['roles', 'cloud-init']),
    ...overrides,
  };
}

const FILTER_BASE: BaseImage = { kind: 'filter', name: 'debian-12-amd64-*', owners: ['136693071363'] };

function plan(
  bakery: Bakery,
  names?: string[],
  options: { force?: boolean; generatorVersion?: string } = {},
): Promise<Plan> {
  const recipes = names ? bakery.recipes.filter((r) => names.includes(r.name)) : bakery.recipes;
  return planBakery(bakery, recipes, deps({ generatorVersion: options.generatorVersion }), { force: options.force });
}

const entry = (p: Plan, name: string): RecipePlan => {
  const found = p.recipes.find((r) => r.name === name);
  if (!found) throw new Error(`${name} is not in the plan (${p.recipes.map((r) => r.name).join(', ')})`);
  return found;
};

/** Plans everything and "bakes" what it says to build, like bake build would tag it. */
async function bakeAll(bakery: Bakery): Promise<Plan> {
  const commit = await repo.git('rev-parse', 'HEAD');
  const first = await plan(bakery);
  for (const item of first.recipes) {
    if (item.action !== 'build') continue;
    const parentAmis = item.parent
      ? catalog.images.find((i) => i.recipe === item.parent && i.fingerprint === entry(first, item.parent!).fingerprint)
      : undefined;
    catalog.bake({ ...item, baseAmi: item.baseAmi || parentAmis?.imageId || '' }, commit);
  }
  return plan(bakery);
}

describe('bake plan', () => {
  it('builds every recipe that has no image yet, parents first', async () => {
    const result = await plan(repo.bakery());
    expect(result.recipes.map((r) => [r.name, r.action, r.reasons])).toEqual([
      ['base', 'build', ['no previous image']],
      ['web', 'build', ['no previous image']],
    ]);
  });

  it('reuses the images tagged with today’s fingerprint, in every region', async () => {
    const result = await bakeAll(repo.bakery());
    expect(result.recipes.map((r) => [r.name, r.action, r.reasons])).toEqual([
      ['base', 'reuse', []],
      ['web', 'reuse', []],
    ]);
    const base = entry(result, 'base');
    expect(base.amis).toEqual({ 'us-east-1': catalog.images.find((i) => i.recipe === 'base')!.imageId });
    expect(currentImages(result).get('web')).toEqual(entry(result, 'web').amis);
    // A reused parent's image is what a child would be baked on.
    expect(entry(result, 'web').baseAmi).toBe(base.amis['us-east-1']);
  });

  it('names the role file that changed since the commit of the newest image', async () => {
    const bakery = repo.bakery();
    await bakeAll(bakery);
    await repo.write('roles/nginx/templates/site.conf.j2', 'server { listen {{ nginx_port }} reuseport; }\n');
    await repo.commit('nginx: reuseport');
    const result = await plan(bakery);
    expect(entry(result, 'base').action).toBe('reuse');
    expect(entry(result, 'web')).toMatchObject({
      action: 'build',
      reasons: ['role nginx: templates/site.conf.j2 changed'],
    });
  });

  it('tells how long each recipe’s last bake ran (bake:built-at to the image’s creation), and nothing for one never built or without the tag', async () => {
    const bakery = repo.bakery();
    expect(entry(await plan(bakery), 'web').lastBakeSeconds).toBeUndefined();
    await bakeAll(bakery);
    const web = catalog.images.find((i) => i.recipe === 'web')!;
    web.tags['bake:built-at'] = new Date(Date.parse(web.createdAt) - 754_000).toISOString();
    await repo.write('roles/nginx/tasks/main.yml', '- name: nginx\n  ansible.builtin.apt:\n    name: nginx-full\n');
    const result = await plan(bakery);
    expect(entry(result, 'web')).toMatchObject({ action: 'build', lastBakeSeconds: 754 });
    expect(entry(result, 'base').lastBakeSeconds).toBeUndefined();
  });

  it('sees uncommitted edits too: the work tree is what would be baked', async () => {
    const bakery = repo.bakery();
    await bakeAll(bakery);
    await repo.write('roles/nginx/tasks/main.yml', '- name: nginx\n  ansible.builtin.apt:\n    name: nginx-full\n');
    expect(entry(await plan(bakery), 'web').reasons).toEqual(['role nginx: tasks/main.yml changed']);
  });

  it('rebuilds a child when a role of its parent changes, and lists the parent first when only the child is asked', async () => {
    const bakery = repo.bakery();
    await bakeAll(bakery);
    await repo.write('roles/common/tasks/extra.yml', '- name: chrony\n  ansible.builtin.apt:\n    name: chrony\n');
    await repo.commit('common: chrony');
    const result = await plan(bakery, ['web']);
    expect(result.recipes.map((r) => r.name)).toEqual(['base', 'web']);
    expect(entry(result, 'base').reasons).toEqual(['needed by web', 'role common: tasks/extra.yml added']);
    expect(entry(result, 'web').reasons).toEqual(['role common: tasks/extra.yml added', 'parent base is rebuilt']);
    expect(entry(result, 'web').baseAmi).toBe('');
  });

  it('plans a child alone without listing a parent that is reused', async () => {
    const bakery = repo.bakery();
    await bakeAll(bakery);
    await repo.write('cloud-init/web.yaml.hbs', '#cloud-config\nhostname: {{service}}\ntimezone: UTC\n');
    await repo.commit('web cloud-init: timezone');
    const result = await plan(bakery, ['web']);
    expect(result.recipes.map((r) => [r.name, r.action, r.reasons])).toEqual([
      ['web', 'build', ['cloud-init template web.yaml.hbs changed']],
    ]);
  });

  it('falls back to the kind of input when the image’s commit is not in this clone', async () => {
    const bakery = repo.bakery();
    const first = await plan(bakery);
    catalog.bake(entry(first, 'base'), 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef');
    await repo.write('roles/common/defaults/main.yml', 'common_timezone: Asia/Seoul\n');
    await repo.commit('timezone');
    expect(entry(await plan(bakery), 'base').reasons).toEqual([
      'roles changed (details unavailable: commit deadbeefdead not in this clone)',
    ]);
  });

  it('says which base image moved when a filter now finds a newer one', async () => {
    const bakery = repo.bakery({ base: { base: FILTER_BASE } });
    await bakeAll(bakery);
    bases['us-east-1'] = { imageId: 'ami-0bbbbbbbbbbbbbbb2', name: 'debian-12-amd64-20261201-1' };
    const result = await plan(bakery);
    expect(entry(result, 'base').reasons).toEqual([
      'base image moved from ami-0aaaaaaaaaaaaaaa1 to ami-0bbbbbbbbbbbbbbb2 (debian-12-amd64-20261201-1)',
    ]);
    expect(entry(result, 'base').baseAmi).toBe('ami-0bbbbbbbbbbbbbbb2');
    expect(entry(result, 'web').reasons).toEqual(['parent base is rebuilt']);
  });

  it('names the recipe setting that changed, not its formatting', async () => {
    await bakeAll(repo.bakery());
    await repo.write(
      'recipes/web.yaml',
      (await import('./bakery-repo.js')).FILES['recipes/web.yaml']
        .replace('t3.small', 't3.large')
        .replace('name: web', '# the front end\nname: "web"'),
    );
    await repo.commit('web: bigger');
    const result = await plan(repo.bakery({ web: { instanceType: 't3.large' } }));
    expect(entry(result, 'web').reasons).toEqual(['recipe settings changed: instance_type']);
  });

  it('says a role was added to the recipe once, as a settings change', async () => {
    const bakery = repo.bakery();
    await bakeAll(bakery);
    await repo.write(
      'recipes/base.yaml',
      'name: base\nbase:\n  ami: ami-0123456789abcdef0\nregions: [us-east-1]\nroles: [common, nginx]\n',
    );
    await repo.commit('base: nginx too');
    const web = bakery.recipes.find((r) => r.name === 'web')!;
    const result = await plan(repo.bakery({ base: { roles: [...bakery.recipes[0].roles, web.roles[0]] } }), ['base']);
    expect(entry(result, 'base').reasons).toEqual(['recipe settings changed: roles']);
  });

  it("rebuilds everything when bake's template generator changes", async () => {
    await bakeAll(repo.bakery());
    const result = await plan(repo.bakery(), undefined, { generatorVersion: '999' });
    expect(entry(result, 'base').reasons).toEqual(["bake's template generator changed"]);
    expect(entry(result, 'web').reasons).toEqual(["bake's template generator changed", 'parent base is rebuilt']);
    // Said once for the whole plan, naming the release and where to read about it.
    expect(generatorChangeNote(result, '1.4.2')).toBe(
      'bake 1.4 changed the generated templates: every recipe rebuilds; see CHANGELOG',
    );
    const unchanged = await plan(repo.bakery());
    expect(unchanged.generatorChanged).toBeUndefined();
    expect(generatorChangeNote(unchanged, '1.4.2')).toBeUndefined();
  });

  it('names the galaxy role version that changed', async () => {
    await bakeAll(repo.bakery());
    await repo.write(
      'roles/requirements.yml',
      '- name: geerlingguy.docker\n  src: geerlingguy.docker\n  version: 7.5.0\n',
    );
    await repo.commit('docker role 7.5.0');
    const result = await plan(repo.bakery({ galaxyVersion: '7.5.0' }));
    expect(entry(result, 'web').reasons).toEqual([
      'role geerlingguy.docker: geerlingguy.docker@7.4.1 → geerlingguy.docker@7.5.0',
    ]);
  });

  it('copies to a new region instead of calling the image changed', async () => {
    await bakeAll(repo.bakery());
    const result = await plan(repo.bakery({ base: { regions: ['us-east-1', 'eu-west-1'] } }));
    const base = entry(result, 'base');
    expect(base).toMatchObject({
      action: 'build',
      missingRegions: ['eu-west-1'],
      distributeOnly: { region: 'us-east-1', ami: base.amis['us-east-1'] },
    });
    expect(base.reasons).toEqual([
      'new region eu-west-1',
      `copy ${base.amis['us-east-1']} from us-east-1 to eu-west-1 (no new bake)`,
    ]);
    expect(entry(result, 'web').action).toBe('reuse');
    expect(entry(result, 'web').distributeOnly).toBeUndefined();
  });

  it('re-applies changed share_with and deprecation to the existing images instead of rebaking', async () => {
    const first = await bakeAll(repo.bakery());
    const result = await plan(repo.bakery({ base: { shareWith: ['123456789012'], deprecateAfterDays: 30 } }));
    const base = entry(result, 'base');
    expect(base.fingerprint).toBe(entry(first, 'base').fingerprint);
    expect(base).toMatchObject({
      action: 'build',
      missingRegions: [],
      unsettledRegions: ['us-east-1'],
      distributeOnly: { region: 'us-east-1', ami: base.amis['us-east-1'] },
    });
    expect(base.reasons).toEqual([
      `share_with, deprecate_after_days changed on ${base.amis['us-east-1']} in us-east-1: applying them (no new bake)`,
    ]);
    // The child builds FROM the same image: neither rebuilt nor held back.
    expect(entry(result, 'web')).toMatchObject({ action: 'reuse', baseAmi: base.amis['us-east-1'] });
    expect(entry(await plan(repo.bakery({ base: { shareWith: ['123456789012'] } }), ['web']), 'web').action).toBe(
      'reuse',
    );
  });

  it('finishes a distribution that stopped before its settings were confirmed', async () => {
    await bakeAll(repo.bakery());
    const image = catalog.images.find((i) => i.recipe === 'base')!;
    delete image.tags['bake:distribution'];
    const base = entry(await plan(repo.bakery()), 'base');
    expect(base.reasons).toEqual([
      `sharing, IMDSv2 and deprecation not confirmed on ${image.imageId} in us-east-1: applying them (no new bake)`,
    ]);
    expect(base.distributeOnly).toEqual({ region: 'us-east-1', ami: image.imageId });
  });

  it('rebuilds an image that failed its launch test (and its children), and one whose launch test never finished', async () => {
    const first = await plan(repo.bakery());
    const failed = catalog.bake(entry(first, 'base'), 'unknown', undefined, { 'bake:launch-test': 'failed' })[
      'us-east-1'
    ];
    const result = await plan(repo.bakery());
    expect(entry(result, 'base')).toMatchObject({
      action: 'build',
      amis: {},
      reasons: [`image ${failed} with this fingerprint failed its launch test`],
    });
    expect(entry(result, 'web').action).toBe('build');

    catalog.images.find((i) => i.imageId === failed)!.tags['bake:launch-test'] = 'pending';
    expect(entry(await plan(repo.bakery()), 'base').reasons).toEqual([
      `image ${failed} with this fingerprint has no finished launch test`,
    ]);

    // A later bake of the same fingerprint that passed is today's image.
    const passed = catalog.bake(entry(first, 'base'), 'unknown', undefined, { 'bake:launch-test': 'passed' })[
      'us-east-1'
    ];
    expect(entry(await plan(repo.bakery()), 'base')).toMatchObject({ action: 'reuse', amis: { 'us-east-1': passed } });
  });

  it('keeps the fingerprint of a recipe that says nothing about its launch test, and changes it with the test’s checks', async () => {
    const at = { file: 'recipes/base.yaml', line: 9, col: 3 };
    const spec = { enabled: true, userData: [], checks: [], timeoutMs: 600_000, location: at };
    const plain = entry(await plan(repo.bakery()), 'base').fingerprint;
    expect(entry(await plan(repo.bakery({ base: { launchTest: spec } })), 'base').fingerprint).toBe(plain);
    expect(
      entry(await plan(repo.bakery({ base: { launchTest: { ...spec, enabled: false } } })), 'base').fingerprint,
    ).toBe(plain);
    const checked = { ...spec, checks: [{ kind: 'file' as const, path: '/run/app-configured', location: at }] };
    expect(entry(await plan(repo.bakery({ base: { launchTest: checked } })), 'base').fingerprint).not.toBe(plain);
  });

  it('rebuilds only the asked recipes with --force', async () => {
    const bakery = repo.bakery();
    await bakeAll(bakery);
    const result = await plan(bakery, ['web'], { force: true });
    expect(result.recipes.map((r) => [r.name, r.action, r.reasons])).toEqual([['web', 'build', ['--force']]]);
    expect(entry(result, 'web').baseAmi).toMatch(/^ami-/);
  });

  it('lists bake’s images once for all regions and resolves each base once per region', async () => {
    const bakery = repo.bakery({ base: { base: FILTER_BASE, regions: ['us-east-1', 'eu-west-1'] } });
    bakery.recipes.push({
      ...bakery.recipes[0],
      name: 'worker',
      file: bakery.recipes[0].file.replace('base', 'worker'),
      regions: ['us-east-1', 'ap-northeast-2'],
    });
    await plan(bakery);
    expect(catalog.listings).toEqual([['us-east-1', 'eu-west-1', 'ap-northeast-2']]);
    expect(resolved).toEqual(['filter@us-east-1']);
  });

  it('watches the roles and cloud-init folders', () => {
    expect(watchedFolders(repo.bakery())).toEqual(['roles', 'cloud-init']);
  });
});

describe('bake plan: an image awaiting its launch test (--launch-test later, --parent-untested)', () => {
  /** base baked with --launch-test later: tagged pending, only its untested record names it. */
  async function baseAwaitingItsTest() {
    const first = await plan(repo.bakery());
    const base = entry(first, 'base');
    const ami = catalog.bake(base, 'unknown', undefined, { 'bake:launch-test': 'pending' })['us-east-1'];
    catalog.recorded.delete(`base ${base.fingerprint} us-east-1`);
    catalog.record('base', `${base.fingerprint}.untested`, 'us-east-1', ami);
    return { ami, fingerprint: base.fingerprint };
  }
  const untestedPlan = (names: string[], parentUntested: boolean) =>
    planBakery(
      repo.bakery(),
      repo.bakery().recipes.filter((r) => names.includes(r.name)),
      deps(),
      { parentUntested },
    );

  it('tests that image instead of baking again, and says so', async () => {
    const { ami } = await baseAwaitingItsTest();
    const result = await plan(repo.bakery());
    expect(entry(result, 'base')).toMatchObject({
      action: 'build',
      amis: {},
      awaitingLaunchTest: { region: 'us-east-1', ami },
      reasons: [`image ${ami} with this fingerprint awaits its launch test: testing it (no new bake)`],
    });
    expect(planLines(result).slice(0, 2)).toEqual([
      'base: test (awaiting its launch test)',
      `  image ${ami} with this fingerprint awaits its launch test: testing it (no new bake)`,
    ]);
    expect(planJson(result)).toMatchObject({
      recipes: [{ name: 'base', action: 'build', awaiting_launch_test: { region: 'us-east-1', ami } }, { name: 'web' }],
    });
    expect(() => assertMatchesSchema('plan', planJson(result))).not.toThrow();
    // Without the flag, a child of it is built in the same run, after the parent's test (never on a pending image from outside).
    expect(entry(result, 'web')).toMatchObject({ action: 'build', baseAmi: '' });
    expect(entry(result, 'web').untestedParent).toBeUndefined();
  });

  it('bakes again when only the tag says pending (no untested record names the image): tags are claims', async () => {
    const { ami, fingerprint } = await baseAwaitingItsTest();
    catalog.recorded.delete(`base ${fingerprint}.untested us-east-1`);
    const base = entry(await plan(repo.bakery()), 'base');
    expect(base.awaitingLaunchTest).toBeUndefined();
    expect(base.reasons).toEqual([`image ${ami} with this fingerprint has no finished launch test`]);
  });

  it('with --parent-untested, a child bakes on that image and watches it; its parent is not baked or tested in its run', async () => {
    const { ami, fingerprint } = await baseAwaitingItsTest();
    const result = await untestedPlan(['web'], true);
    expect(result.recipes.map((r) => r.name)).toEqual(['web']);
    expect(entry(result, 'web')).toMatchObject({
      action: 'build',
      baseAmi: ami,
      untestedParent: { recipe: 'base', fingerprint, region: 'us-east-1', ami },
    });
    expect(planJson(result)).toMatchObject({
      recipes: [{ name: 'web', untested_parent: { recipe: 'base', region: 'us-east-1', ami } }],
    });
    expect(() => assertMatchesSchema('plan', planJson(result))).not.toThrow();
    // Without the flag the pending parent is no base: it is listed, to be tested first in the same run.
    expect((await untestedPlan(['web'], false)).recipes.map((r) => [r.name, r.reasons[0]])).toEqual([
      ['base', 'needed by web'],
      ['web', 'no previous image'],
    ]);
  });

  it('a child image awaiting its test watches the image it was built on, even after that one failed', async () => {
    const { ami } = await baseAwaitingItsTest();
    const web = entry(await untestedPlan(['web'], true), 'web');
    const webAmi = catalog.bake({ ...web, baseAmi: ami }, 'unknown', undefined, {
      'bake:launch-test': 'pending',
      'bake:parent': ami,
    })['us-east-1'];
    catalog.recorded.delete(`web ${web.fingerprint} us-east-1`);
    catalog.record('web', `${web.fingerprint}.untested`, 'us-east-1', webAmi);
    catalog.images.find((i) => i.imageId === ami)!.tags['bake:launch-test'] = 'failed';
    const result = await untestedPlan(['web'], true);
    expect(result.recipes.map((r) => r.name)).toEqual(['web']);
    expect(entry(result, 'web')).toMatchObject({
      awaitingLaunchTest: { region: 'us-east-1', ami: webAmi },
      untestedParent: { recipe: 'base', ami },
    });
    // Without the flag, base is baked again: web's image was built on another base image, so web is too.
    const plain = await untestedPlan(['web'], false);
    expect(entry(plain, 'web').awaitingLaunchTest).toBeUndefined();
  });
});
