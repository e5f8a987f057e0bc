import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashedContentIds } from '../../src/fingerprint/content-ids.js';
import { fingerprintOf, recipeInputs, type Fingerprint } from '../../src/fingerprint/fingerprint.js';
import { formatInputsTag, parseInputsTag } from '../../src/fingerprint/inputs-tag.js';
import type { Bakery, Recipe } from '../../src/recipes/model.js';
import { BakeryRepo } from '../pipeline/bakery-repo.js';

let repo: BakeryRepo;
beforeAll(async () => {
  repo = await BakeryRepo.create({ git: false });
});
afterAll(() => repo.close());

interface Variant {
  bakery?: Bakery;
  baseAmi?: string;
  parent?: string;
  generator?: string;
  recipe?: (r: Recipe) => Recipe;
  name?: string;
}

/** Fingerprints a recipe of the repo's bakery as it is on disk right now. */
async function fingerprint(variant: Variant = {}): Promise<Fingerprint> {
  const bakery = variant.bakery ?? repo.bakery();
  const ids = await hashedContentIds(repo.root).idsUnder(['roles', 'cloud-init']);
  const original = bakery.recipes.find((r) => r.name === (variant.name ?? 'web'))!;
  const recipe = variant.recipe ? variant.recipe(original) : original;
  return fingerprintOf(
    recipeInputs(recipe, {
      bakery,
      ids,
      baseAmi: variant.baseAmi ?? 'ami-0123456789abcdef0',
      parentFingerprint: variant.parent ?? (recipe.base.kind === 'recipe' ? '0011223344556677' : undefined),
      generator: variant.generator ?? '1',
    }),
  );
}

async function withFile<T>(file: string, text: string, body: () => Promise<T>): Promise<T> {
  const { readFile } = await import('node:fs/promises');
  const before = await readFile(path.join(repo.root, file), 'utf8');
  await repo.write(file, text);
  try {
    return await body();
  } finally {
    await repo.write(file, before);
  }
}

describe('a recipe fingerprint', () => {
  it('is 16 hex characters and the same on every run', async () => {
    const a = await fingerprint();
    expect(a.value).toMatch(/^[0-9a-f]{16}$/);
    expect((await fingerprint()).value).toBe(a.value);
  });

  it('ignores where the recipe lives, where each key was written, its pin targets and its copy regions', async () => {
    const a = await fingerprint();
    const b = await fingerprint({
      recipe: (r) => ({
        ...r,
        file: '/elsewhere/web.yml',
        locations: { base: { file: '/elsewhere/web.yml', line: 40, col: 3 } },
        roles: r.roles.map((use) => ({ ...use, location: { file: 'x', line: 99, col: 9 } })),
        pin: [
          {
            file: '/infra/web.tfvars',
            fileAsWritten: 'web.tfvars',
            variable: 'web_ami',
            format: 'map',
            location: { file: 'x', line: 1, col: 1 },
          },
        ],
        regions: [...r.regions, 'eu-west-1'],
      }),
    });
    expect(b.value).toBe(a.value);
  });

  it('ignores the key order of role and cloud-init vars', async () => {
    const withVars =
      (vars: Record<string, unknown>) =>
      (r: Recipe): Recipe => ({
        ...r,
        roles: r.roles.map((use) => ({ ...use, vars })),
        cloudInit: r.cloudInit.map((use) => ({ ...use, vars: { ...vars, service: 'web' } })),
      });
    const a = await fingerprint({ recipe: withVars({ port: 80, workers: { min: 1, max: 4 } }) });
    const b = await fingerprint({ recipe: withVars({ workers: { max: 4, min: 1 }, port: 80 }) });
    expect(b.value).toBe(a.value);
  });

  it('changes when one byte of a role file changes, and says the roles changed', async () => {
    const a = await fingerprint();
    const b = await withFile('roles/nginx/templates/site.conf.j2', 'server { listen {{ nginx_port }};}\n', () =>
      fingerprint(),
    );
    expect(b.value).not.toBe(a.value);
    expect(changedComponents(a, b)).toEqual(['roles']);
  });

  it("changes when a file of a role it only gets through another role's meta dependencies changes", async () => {
    const a = await fingerprint();
    const b = await withFile('roles/common/defaults/main.yml', 'common_timezone: Asia/Seoul\n', () => fingerprint());
    expect(changedComponents(a, b)).toEqual(['roles']);
  });

  it('does not change when a role the recipe does not use changes', async () => {
    const a = await fingerprint();
    await repo.write('roles/unused/tasks/main.yml', '- debug: msg=unused\n');
    const b = await fingerprint();
    await repo.remove('roles/unused/tasks/main.yml');
    expect(b.value).toBe(a.value);
  });

  it('changes when a galaxy role is pinned to another version', async () => {
    const a = await fingerprint();
    const b = await fingerprint({ bakery: repo.bakery({ galaxyVersion: '7.5.0' }) });
    expect(changedComponents(a, b)).toEqual(['roles']);
  });

  it('changes when a cloud-init var or template changes', async () => {
    const a = await fingerprint();
    const vars = await fingerprint({
      recipe: (r) => ({ ...r, cloudInit: [{ ...r.cloudInit[0], vars: { service: 'api' } }] }),
    });
    const template = await withFile('cloud-init/web.yaml.hbs', '#cloud-config\nhostname: {{service}}-1\n', () =>
      fingerprint(),
    );
    expect(changedComponents(a, vars)).toEqual(['cloudInit']);
    expect(changedComponents(a, template)).toEqual(['cloudInit']);
  });

  it('changes with the resolved base AMI, the parent fingerprint and the generator version', async () => {
    const a = await fingerprint({ name: 'base' });
    expect(changedComponents(a, await fingerprint({ name: 'base', baseAmi: 'ami-0fffffffffffffff0' }))).toEqual([
      'base',
    ]);
    const web = await fingerprint();
    expect(changedComponents(web, await fingerprint({ parent: '8899aabbccddeeff' }))).toEqual(['parent']);
    expect(changedComponents(web, await fingerprint({ generator: '2' }))).toEqual(['generator']);
  });

  it('ignores sharing and deprecation (applied to the existing images) but not IMDSv2 or KMS keys', async () => {
    const a = await fingerprint();
    const shared = await fingerprint({
      recipe: (r) => ({ ...r, shareWith: ['123456789012'], deprecateAfterDays: 30 }),
    });
    const imds = await fingerprint({ recipe: (r) => ({ ...r, imdsv2: !r.imdsv2 }) });
    const kms = await fingerprint({ recipe: (r) => ({ ...r, kmsKeyIds: { 'us-east-1': 'alias/images' } }) });
    expect(shared.value).toBe(a.value);
    expect(imds.value).not.toBe(a.value);
    expect(kms.value).not.toBe(a.value);
  });

  it('changes with a setting of the image, and names it as a recipe change', async () => {
    const a = await fingerprint();
    const b = await fingerprint({ recipe: (r) => ({ ...r, instanceType: 't3.large' }) });
    const c = await fingerprint({ recipe: (r) => ({ ...r, regions: ['eu-west-1', ...r.regions] }) });
    expect(changedComponents(a, b)).toEqual(['recipe']);
    expect(changedComponents(a, c)).toEqual(['recipe']);
  });

  it('records its components in a bake:inputs tag that fits EC2 and reads back', async () => {
    const a = await fingerprint();
    expect(a.inputs.length).toBeLessThanOrEqual(256);
    expect(a.inputs).toMatch(
      /^recipe=[0-9a-f]{12},roles=[0-9a-f]{12},cloud-init=[0-9a-f]{12},base=[0-9a-f]{12},parent=[0-9a-f]{12},gen=[0-9a-f]{12}$/,
    );
    expect(parseInputsTag(a.inputs)).toEqual(a.digests);
    expect(formatInputsTag(parseInputsTag(a.inputs) as Fingerprint['digests'])).toBe(a.inputs);
    expect((await fingerprint({ name: 'base' })).inputs).toContain('parent=-');
  });
});

function changedComponents(a: Fingerprint, b: Fingerprint): string[] {
  return Object.keys(a.digests).filter(
    (k) => a.digests[k as keyof typeof a.digests] !== b.digests[k as keyof typeof b.digests],
  );
}
