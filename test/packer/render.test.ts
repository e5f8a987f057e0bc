import { mkdtemp, readdir, readFile, stat, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { beforeEach, describe, expect, it } from 'vitest';
import { BakeError, RecipeError, UsageError } from '../../src/errors/index.js';
import { renderRecipe } from '../../src/packer/render.js';
import { fromHcl2json } from '../../src/escape/hcl-string.js';
import { packerVariablesText, writePackerVariables } from '../../src/packer/variables.js';
import { bakery, recipe } from './recipe-factory.js';
import { FIXTURE_BAKERY, representativeBakery, renderCloudInitStandIn } from './representative-recipes.js';
import { HOSTILE_FOR_PACKER as HOSTILE } from './hostile-values.js';
import { PACKER, packerEvaluate, writeNullTemplate } from './packer-cli.js';
import { renderBakery } from '../../src/packer/render-bakery.js';
import { chooseShape } from '../../src/packer/shape.js';

let out: string;
beforeEach(async () => {
  out = await mkdtemp(path.join(tmpdir(), 'bake-render-'));
});

const shop = representativeBakery(FIXTURE_BAKERY);
const web = shop.recipes.find((r) => r.name === 'web')!;

describe('renderRecipe', () => {
  it('writes the template, playbook, verify script and cloud-init files under OUT/<recipe>/', async () => {
    const rendered = await renderRecipe(shop, web, out, { shape: 'legacy', renderCloudInit: renderCloudInitStandIn });
    expect(rendered).toMatchObject({
      recipe: 'web',
      dir: path.join(out, 'web'),
      template: path.join(out, 'web', 'web.pkr.hcl'),
      playbook: path.join(out, 'web', 'playbook.yml'),
      ansibleCommand: path.join(out, 'web', 'ansible-playbook.sh'),
      verifyScript: path.join(out, 'web', 'verify.sh'),
      cloudInit: [path.join(out, 'web', 'cloud-init', '90-bake-web.cfg')],
      manifest: path.join(out, 'web', 'manifest.json'),
      shape: 'legacy',
      sourceAmi: 'variable',
    });
    expect((await readdir(rendered.dir)).sort()).toEqual([
      'ansible-playbook.sh',
      'capture-cleanup.sh',
      'cloud-init',
      'playbook.yml',
      'verify.sh',
      'web.pkr.hcl',
    ]);
    expect((await readdir(path.join(rendered.dir, 'cloud-init'))).sort()).toEqual(['.bake-written', '90-bake-web.cfg']);
    expect(await readFile(rendered.cloudInit[0], 'utf8')).toBe(
      '#cloud-config\nruncmd:\n  - [systemctl, restart, nginx]\n',
    );
    expect((await stat(rendered.verifyScript)).mode & 0o777).toBe(0o755);
    expect((await stat(rendered.template)).mode & 0o777).toBe(0o644);
    expect(await readFile(rendered.playbook, 'utf8')).toContain('src: cloud-init/90-bake-web.cfg');
  });

  it('leaves the same bytes on a second render and no temporary files behind', async () => {
    const first = await renderRecipe(shop, web, out, { shape: 'modern', renderCloudInit: renderCloudInitStandIn });
    const before = await readFile(first.template, 'utf8');
    await renderRecipe(shop, web, out, { shape: 'modern', renderCloudInit: renderCloudInitStandIn });
    expect(await readFile(first.template, 'utf8')).toBe(before);
    expect((await readdir(first.dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('removes cloud-init files it rendered before and a recipe no longer renders, and nothing it did not write', async () => {
    const older = async (...args: Parameters<typeof renderCloudInitStandIn>) => [
      ...(await renderCloudInitStandIn(...args)),
      { template: 'old.yaml.hbs', fileName: '80-old.cfg', content: '#cloud-config\n' },
    ];
    await renderRecipe(shop, web, out, { shape: 'legacy', renderCloudInit: older });
    const folder = path.join(out, 'web', 'cloud-init');
    expect((await readdir(folder)).sort()).toEqual(['.bake-written', '80-old.cfg', '90-bake-web.cfg']);
    await writeFile(path.join(folder, 'notes.cfg'), 'mine\n');
    await writeFile(path.join(out, 'web', 'notes.txt'), 'mine too\n');
    await renderRecipe(shop, web, out, { shape: 'legacy', renderCloudInit: renderCloudInitStandIn });
    expect((await readdir(folder)).sort()).toEqual(['.bake-written', '90-bake-web.cfg', 'notes.cfg']);
    expect(await readFile(path.join(out, 'web', 'notes.txt'), 'utf8')).toBe('mine too\n');
  });

  it('never writes through a link planted in the output folder', async () => {
    const victim = path.join(await mkdtemp(path.join(tmpdir(), 'bake-victim-')), 'passwd');
    await writeFile(victim, 'root:x:0:0\n');
    for (const planted of [
      path.join('web', 'web.pkr.hcl'),
      path.join('web', 'cloud-init', '90-bake-web.cfg'),
      path.join('web', 'playbook.yml'),
    ]) {
      const fresh = await mkdtemp(path.join(tmpdir(), 'bake-render-links-'));
      await mkdir(path.dirname(path.join(fresh, planted)), { recursive: true });
      await symlink(victim, path.join(fresh, planted));
      const error = await renderRecipe(shop, web, fresh, {
        shape: 'legacy',
        renderCloudInit: renderCloudInitStandIn,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BakeError);
      expect((error as Error).message).toBe(
        `${path.join(fresh, planted)}: is a symbolic link; bake never writes through links in its output folder (remove it)`,
      );
    }
    // A linked recipe folder leads elsewhere just the same.
    const linkedDir = await mkdtemp(path.join(tmpdir(), 'bake-render-links-'));
    await symlink(path.dirname(victim), path.join(linkedDir, 'web'));
    await expect(
      renderRecipe(shop, web, linkedDir, { shape: 'legacy', renderCloudInit: renderCloudInitStandIn }),
    ).rejects.toThrow(`${path.join(linkedDir, 'web')}: is a symbolic link`);
    expect(await readFile(victim, 'utf8')).toBe('root:x:0:0\n');
    expect(await readdir(path.dirname(victim))).toEqual(['passwd']);
  });

  it('refuses a cloud-init file name that could leave its folder', async () => {
    const escape = async () => [{ template: 'web.yaml.hbs', fileName: '../../etc/passwd', content: 'x' }];
    await expect(renderRecipe(shop, web, out, { shape: 'legacy', renderCloudInit: escape })).rejects.toThrow(BakeError);
    expect(await readdir(out)).toEqual([]);
  });

  it('refuses a recipe name that cannot be a folder name, pointing at the recipe', async () => {
    const r = recipe({ name: '../evil', locations: { name: { file: '/b/recipes/evil.yaml', line: 1, col: 7 } } });
    await expect(renderRecipe(bakery([r]), r, out, { shape: 'legacy' })).rejects.toThrow(RecipeError);
    await expect(renderRecipe(bakery([r]), r, out, { shape: 'legacy' })).rejects.toThrow(/cannot name a folder/);
  });

  it('does not need a cloud-init renderer for a recipe without cloud-init', async () => {
    const base = shop.recipes.find((r) => r.name === 'base')!;
    const rendered = await renderRecipe(shop, base, out, { shape: 'legacy' });
    expect(rendered.cloudInit).toEqual([]);
    expect(await readFile(rendered.playbook, 'utf8')).not.toContain('cloud-init');
  });

  it('reports what the legacy shape leaves to the build', async () => {
    const rendered = await renderRecipe(shop, web, out, { shape: 'legacy', renderCloudInit: renderCloudInitStandIn });
    expect(rendered.gaps.map((gap) => gap.setting)).toEqual(['imdsv2']);
  });
});

describe('writePackerVariables', () => {
  const values = {
    source_ami: 'ami-0aaaaaaaaaaaaaaaa',
    fingerprint: 'ab12',
    git_commit: HOSTILE.join('|'),
    built_at: '2026-11-22T10:00:00Z',
    build_url: 'https://jenkins.example.org/job/a%20b/${BUILD_ID}/',
    base_ami: 'ami-0bbbbbbbbbbbbbbbb',
    parent_ami: '',
  };

  it('writes every value so that HCL and Packer read it back exactly', async () => {
    const file = path.join(out, 'build.pkrvars.hcl');
    await writePackerVariables(file, values);
    const parsed = (await parse(file, await readFile(file, 'utf8'))) as Record<string, unknown>;
    for (const [name, value] of Object.entries(values)) expect(fromHcl2json(parsed[name])).toBe(value);

    const template = await writeNullTemplate(
      path.join(out, 'echo.pkr.hcl'),
      Object.keys(values)
        .map((name) => `variable "${name}" {\n  type = string\n}\n`)
        .join(''),
    );
    expect(await packerEvaluate(template, 'var.git_commit', file)).toBe(values.git_commit);
    expect(await packerEvaluate(template, 'var.build_url', file)).toBe(values.build_url);
  });

  it('writes the variables in a fixed order, one a line', () => {
    const text = packerVariablesText(values);
    expect(
      text
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => line.split(' ')[0]),
    ).toEqual(Object.keys(values));
  });
});

describe('rendering a bakery (bake render)', () => {
  it('renders every recipe when none is named', async () => {
    const rendered = await renderBakery(shop, [], out, { shape: 'legacy', renderCloudInit: renderCloudInitStandIn });
    expect(rendered.map((r) => r.recipe)).toEqual(['base', 'debian', 'web']);
    expect((await readdir(out)).sort()).toEqual(['base', 'debian', 'web']);
  });

  it('renders only the named recipes, and not their parents', async () => {
    const rendered = await renderBakery(shop, ['web'], out, {
      shape: 'legacy',
      renderCloudInit: renderCloudInitStandIn,
    });
    expect(rendered.map((r) => r.recipe)).toEqual(['web']);
    expect(await readdir(out)).toEqual(['web']);
  });

  it('names the recipes the bakery has when asked for one it has not, writing nothing', async () => {
    await expect(renderBakery(shop, ['web', 'wbe'], out, { shape: 'legacy' })).rejects.toThrow(
      new UsageError('unknown recipe wbe (this bakery has: base, debian, web)'),
    );
    expect(await readdir(out)).toEqual([]);
  });
});

describe('choosing the template shape', () => {
  it('uses the shape asked for without looking for packer', async () => {
    const warnings: string[] = [];
    expect(await chooseShape('legacy', (w) => warnings.push(w), '/nonexistent/packer')).toEqual({ shape: 'legacy' });
    expect(warnings).toEqual([]);
  });

  it('asks the installed packer on auto', async () => {
    expect(await chooseShape('auto', () => {}, PACKER)).toEqual({ shape: 'legacy', version: '1.6.6' });
  });

  it('falls back to the modern shape with a warning when there is no packer', async () => {
    const warnings: string[] = [];
    expect(await chooseShape('auto', (w) => warnings.push(w), '/nonexistent/packer')).toEqual({ shape: 'modern' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^packer not found: .*rendering for modern Packer/);
  });
});
