/**
 * The real Packer 1.6.6 (Debian's, the legacy shape) accepts what bake renders: it rejects any
 * option it does not know and checks that the playbook and script the template names exist.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Bakery } from '../../src/recipes/model.js';
import { renderRecipe, type RenderOptions } from '../../src/packer/render.js';
import { writePackerVariables } from '../../src/packer/variables.js';
import { bakery, recipe } from './recipe-factory.js';
import { FIXTURE_BAKERY, representativeBakery, renderCloudInitStandIn } from './representative-recipes.js';
import { HOSTILE_FOR_PACKER as HOSTILE } from './hostile-values.js';
import { packerEvaluate, packerValidate } from './packer-cli.js';

const NO_VALUES = {
  source_ami: '',
  fingerprint: '',
  git_commit: '',
  built_at: '',
  build_url: '',
  base_ami: '',
  parent_ami: '',
};
let out: string;
const shop: Bakery = representativeBakery(FIXTURE_BAKERY);

beforeAll(async () => {
  out = await mkdtemp(path.join(tmpdir(), 'bake-packer-validate-'));
});

async function renderAndValidate(b: Bakery, name: string, options: Partial<RenderOptions> = {}, subdir = 'aws') {
  const r = b.recipes.find((candidate) => candidate.name === name)!;
  const rendered = await renderRecipe(b, r, path.join(out, subdir), {
    shape: 'legacy',
    renderCloudInit: renderCloudInitStandIn,
    ...options,
  });
  return { rendered, ...(await packerValidate(rendered.template)) };
}

describe('packer validate (Packer 1.6.6) on rendered templates', () => {
  for (const name of ['base', 'web', 'debian']) {
    it(`accepts the ${name} recipe for AWS`, async () => {
      const { exitCode, output } = await renderAndValidate(shop, name);
      expect(output).not.toMatch(/Error/);
      expect(exitCode).toBe(0);
    });
  }

  it('accepts the web recipe for the local cloud (custom endpoint, direct ssh port)', async () => {
    const { exitCode, output } = await renderAndValidate(
      shop,
      'web',
      { target: { ec2Endpoint: 'http://127.0.0.1:45123', local: { sshPort: 2222 } } },
      'local',
    );
    expect(output).not.toMatch(/Error/);
    expect(exitCode).toBe(0);
  });

  it('accepts a filter base looked up by Packer, or resolved by the build and passed in', async () => {
    const { rendered, exitCode } = await renderAndValidate(shop, 'debian', {}, 'filter');
    expect(exitCode).toBe(0);
    const varFile = path.join(rendered.dir, 'build.pkrvars.hcl');
    await writePackerVariables(varFile, { ...NO_VALUES, source_ami: 'ami-0fedcba9876543210' });
    expect((await packerValidate(rendered.template, varFile)).exitCode).toBe(0);
  });

  it('gives Packer no image at all if the filter were dropped: the dynamic block is what supplies it', async () => {
    const { rendered } = await renderAndValidate(shop, 'debian', {}, 'no-filter');
    const text = (await readFile(rendered.template, 'utf8')).replace('? [] : ["filter"]', '? [] : []');
    await writeFile(rendered.template, text);
    const { exitCode, output } = await packerValidate(rendered.template);
    expect(exitCode).not.toBe(0);
    expect(output).toContain('A source_ami or source_ami_filter must be specified');
  });

  it('rejects the modern shape, proving validate is strict about what it is given', async () => {
    const { exitCode, output } = await renderAndValidate(shop, 'web', { shape: 'modern' }, 'modern');
    expect(exitCode).not.toBe(0);
    expect(output).toMatch(/imds_support|metadata_options|ami_org_arns|required_plugins/);
  });

  it('accepts a recipe full of hostile values, none of which reaches the template (bake tags through EC2)', async () => {
    const tags = Object.fromEntries(HOSTILE.filter(Boolean).map((value, i) => [`k${i} ${value}`, value]));
    const hostile = recipe({
      name: 'hostile',
      file: path.join(FIXTURE_BAKERY, 'recipes/hostile.yaml'),
      description: 'desc" } source "amazon-ebs" "evil" { x = "${var.secret}',
      tags,
      roles: [
        { name: 'common', vars: { note: '${var.secret}', quote: 'a" b' }, location: { file: 'x', line: 1, col: 1 } },
      ],
      verify: [{ kind: 'file', path: "/etc/it's here", location: { file: 'x', line: 1, col: 1 } }],
    });
    const b = bakery([hostile], { root: FIXTURE_BAKERY });
    const { rendered, exitCode, output } = await renderAndValidate(b, 'hostile', {}, 'hostile');
    expect(output).not.toMatch(/Error/);
    expect(exitCode).toBe(0);
    const imageTags = (await packerEvaluate(rendered.template, 'local.image_tags')) as Record<string, string>;
    for (const key of Object.keys(tags)) expect(imageTags[key]).toBeUndefined();
    expect(imageTags['bake:recipe']).toBe('hostile');
  });

  it('reads the per-build values from the var file bake writes', async () => {
    const { rendered } = await renderAndValidate(shop, 'web', {}, 'varfile');
    const varFile = path.join(rendered.dir, 'build.pkrvars.hcl');
    await writePackerVariables(varFile, {
      source_ami: 'ami-0aaaaaaaaaaaaaaaa',
      fingerprint: '3f5c0e9a7b1d2c4e5f60718293a4b5c6',
      git_commit: '9fceb02d0ae598e95dc970b74767f19372d61af8',
      built_at: '2026-11-22T10:00:00.250Z',
      build_url: 'https://jenkins.example.org/job/bake/42/',
      base_ami: 'ami-0bbbbbbbbbbbbbbbb',
      parent_ami: 'ami-0bbbbbbbbbbbbbbbb',
    });
    expect((await packerValidate(rendered.template, varFile)).exitCode).toBe(0);
    const imageTags = (await packerEvaluate(rendered.template, 'local.image_tags', varFile)) as Record<string, string>;
    expect(imageTags).toMatchObject({
      'bake:recipe': 'web',
      'bake:fingerprint': '3f5c0e9a7b1d2c4e5f60718293a4b5c6',
      'bake:git-commit': '9fceb02d0ae598e95dc970b74767f19372d61af8',
      'bake:base-ami': 'ami-0bbbbbbbbbbbbbbbb',
      'bake:parent': 'ami-0bbbbbbbbbbbbbbbb',
      'bake:built-at': '2026-11-22T10:00:00.250Z',
      'bake:build-url': 'https://jenkins.example.org/job/bake/42/',
    });
    // The same name bake's pipeline gives the image: <recipe>-<fingerprint 12>-<built_at digits>.
    expect(imageTags.Name).toBe('web-3f5c0e9a7b1d-20261122100000');
  });

  it('leaves the build-url tag off when there is no build URL', async () => {
    const { rendered } = await renderAndValidate(shop, 'base', {}, 'no-url');
    const imageTags = (await packerEvaluate(rendered.template, 'local.image_tags')) as Record<string, string>;
    expect(imageTags).not.toHaveProperty('bake:build-url');
    expect(imageTags).not.toHaveProperty('bake:parent');
    // Without a built_at (a bare `packer build`), Packer's own clock keeps the name unique.
    expect(imageTags.Name).toMatch(/^base--\d{14}$/);
  });
});
