/**
 * `bake init`: a new bakery that validates as it is written, never overwrites a file, and gets
 * the bakery's name into YAML and HCL quoted by construction whatever the name is.
 */
import { lstat, mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseHcl } from '@cdktf/hcl2json';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { defaultBakeryName } from '../../src/recipes/bakery-name.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { scaffoldFiles } from '../../src/scaffold/scaffold.js';
import { assertMatchesSchema } from '../schema/json-schemas.js';

const repo = path.resolve(import.meta.dirname, '../..');

function bake(...args: string[]) {
  return execa('node', [path.join(repo, 'bin/bake.js'), ...args], {
    env: { ...process.env, CI: 'true', NO_COLOR: '1' },
    reject: false,
  });
}

const newDir = () => mkdtemp(path.join(tmpdir(), 'bake-init-'));
const scaffoldPaths = scaffoldFiles({ bakery: 'x', recipeSchema: 's' }).map((file) => file.path);

/** Lines of human output without CI's timestamps. */
const lines = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => line.replace(/^\S+Z /, ''));

describe('bake init', () => {
  it('writes a bakery that bake validate accepts as it is, with one line per file', async () => {
    const dir = await newDir();
    const init = await bake('init', '--dir', dir, '--name', 'platform-images');
    expect(init.exitCode, init.stderr).toBe(0);
    expect(lines(init.stdout)).toEqual(scaffoldPaths.map((file) => `created ${file}`));
    expect(init.stderr).toContain('npx bake build --local --dir');
    for (const file of [
      'bake.config.yaml',
      'recipes/base.yaml',
      'roles/baseline/tasks/main.yml',
      'cloud-init/base.yaml.hbs',
      'cloud-init/base-user-data.yaml.hbs',
      'infra/app/main.tf',
      'infra/app/dev.tfvars',
      'infra/app/prod.tfvars',
      'Jenkinsfile',
      '.gitignore',
    ])
      expect(scaffoldPaths).toContain(file);

    const validate = await bake('validate', '--dir', dir);
    expect(validate.exitCode, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/ok: 1 recipes, 1 roles, 2 cloud-init templates/);
    const bakery = await loadBakery(dir);
    expect(bakery.config).toMatchObject({ bakery: 'platform-images', bakerySource: 'config' });
    const base = bakery.recipes[0];
    expect(base.verify.length).toBeGreaterThan(0);
    expect(base.launchTest).toMatchObject({ enabled: true });
    // A build pins dev; bake promote takes an image on to prod.
    expect(bakery.config).toMatchObject({ environments: ['dev', 'prod'] });
    // Security freshness is on for a new bakery: builds take the pending fixes, the nightly scan rebuilds.
    expect(bakery.config).toMatchObject({ upgrade: 'security', rebuildOn: ['security'] });
    expect(base.upgrade).toBe('security');
    expect(base.rebuildOn).toEqual(['security']);
    expect(
      base.pin.map((target) => ('file' in target ? [target.file, target.variable, target.environment] : [])),
    ).toEqual([
      [path.join(dir, 'infra/app/dev.tfvars'), 'base_ami', 'dev'],
      [path.join(dir, 'infra/app/prod.tfvars'), 'base_ami', 'prod'],
    ]);
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toMatch(/^\.bake\/$/m);
    // Editors find the recipe schema in the installed package.
    expect(await readFile(path.join(dir, 'recipes/base.yaml'), 'utf8')).toMatch(
      /^# yaml-language-server: \$schema=\.\.\/node_modules\/bake\/schema\/recipe\.schema\.json\n/,
    );
  });

  it('leaves a bakery written before these defaults as it was: no key, no upgrade step and no security rebuild', async () => {
    const dir = await newDir();
    expect((await bake('init', '--dir', dir, '--name', 'older')).exitCode).toBe(0);
    const config = path.join(dir, 'bake.config.yaml');
    const written = await readFile(config, 'utf8');
    await writeFile(config, written.replace(/^upgrade: security\nrebuild_on: \[security\]\n/m, ''));
    const bakery = await loadBakery(dir);
    expect(bakery.config.upgrade).toBeUndefined();
    expect(bakery.config.rebuildOn).toBeUndefined();
    expect(bakery.recipes[0]!.upgrade).toBeUndefined();
    expect(bakery.recipes[0]!.rebuildOn).toBeUndefined();
  });

  it('never overwrites a file: a second run keeps all of them, saying so once per file', async () => {
    const dir = await newDir();
    await writeFile(path.join(dir, 'bake.config.yaml'), 'bakery: ours\nregions: [eu-west-1]\n');
    await writeFile(path.join(dir, '.gitignore'), 'node_modules/\n');
    const first = await bake('init', '--dir', dir, '--name', 'theirs');
    expect(first.exitCode, first.stderr).toBe(0);
    expect(lines(first.stdout)).toContain('kept bake.config.yaml (exists)');
    expect(lines(first.stdout)).toContain('kept .gitignore (exists)');
    expect(await readFile(path.join(dir, 'bake.config.yaml'), 'utf8')).toBe('bakery: ours\nregions: [eu-west-1]\n');
    await writeFile(path.join(dir, 'recipes/base.yaml'), '# mine now\n');

    const second = await bake('init', '--dir', dir, '--json');
    expect(second.exitCode, second.stderr).toBe(0);
    const json = JSON.parse(second.stdout);
    assertMatchesSchema('init', json);
    expect(json.files).toEqual(scaffoldPaths.map((file) => ({ path: file, action: 'kept' })));
    expect(lines(second.stderr).filter((line) => line.startsWith('kept '))).toHaveLength(scaffoldPaths.length);
    expect(await readFile(path.join(dir, 'recipes/base.yaml'), 'utf8')).toBe('# mine now\n');
    // Nothing but the scaffold's files: no temp file is left behind.
    expect((await readdir(dir, { recursive: true })).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('with --check writes nothing and exits 2 when it would create a file', async () => {
    const dir = await newDir();
    const check = await bake('init', '--dir', dir, '--check', '--name', 'x');
    expect(check.exitCode, check.stderr).toBe(2);
    expect(lines(check.stdout)).toContain('would create recipes/base.yaml');
    expect(await readdir(dir)).toEqual([]);
    await bake('init', '--dir', dir, '--name', 'x');
    expect((await bake('init', '--dir', dir, '--check')).exitCode).toBe(0);
  });

  it('names the bakery after the git remote, as bake would, and writes the name into the config', async () => {
    const dir = await newDir();
    await execa('git', ['init', '-q'], { cwd: dir });
    await execa('git', ['remote', 'add', 'origin', 'https://git.example.com/platform/images.git'], { cwd: dir });
    const derived = await defaultBakeryName(dir);
    expect(derived.source).toBe('git remote');
    const init = await bake('init', '--dir', dir, '--json');
    expect(init.exitCode, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ bakery: derived.name, bakery_source: 'git remote' });
    expect(parseYaml(await readFile(path.join(dir, 'bake.config.yaml'), 'utf8')).bakery).toBe(derived.name);
  });

  it('keeps a name YAML would read as something else a string, in the config and in the Terraform tag', async () => {
    for (const name of ['123', 'null', 'yes', 'true', '0x1F', '1e3', 'a/b.c_d-e', 'NaN']) {
      const dir = await newDir();
      const init = await bake('init', '--dir', dir, '--name', name);
      expect(init.exitCode, init.stderr).toBe(0);
      expect((await loadBakery(dir)).config.bakery).toBe(name);
      const tf = await parseHcl('main.tf', await readFile(path.join(dir, 'infra/app/main.tf'), 'utf8'));
      expect(tf.resource.aws_instance.app[0].tags.Bakery).toBe(name);
    }
  });

  it('refuses a hostile name in one line and writes nothing', async () => {
    for (const name of ['x"y', 'a b', '$(touch /tmp/pwned)', '{{ lookup("env","HOME") }}', 'a\nb: c', '-rf', '', 'é']) {
      const dir = await newDir();
      const init = await bake('init', '--dir', dir, '--name', name);
      expect(init.exitCode).toBe(1);
      expect(init.stderr).toMatch(
        /^--name .*: a bakery name is 1 to 128 letters, digits and \. _ - \/, starting with a letter or digit$/,
      );
      expect(await readdir(dir)).toEqual([]);
    }
  });

  it('refuses to write through a link that leads out of the bakery, before writing anything', async () => {
    const dir = await newDir();
    const outside = await newDir();
    await symlink(outside, path.join(dir, 'roles'));
    const init = await bake('init', '--dir', dir, '--name', 'x');
    expect(init.exitCode).toBe(1);
    expect(init.stderr).toMatch(
      /roles\/baseline\/.* leads through a symbolic link to .*; bake init writes only inside the bakery$/,
    );
    expect(await readdir(outside)).toEqual([]);
    expect(await readdir(dir)).toEqual(['roles']);
    // A dangling link where a file would go is kept, never written through.
    const other = await newDir();
    await mkdir(path.join(other, 'recipes'));
    await symlink(path.join(outside, 'planted.yaml'), path.join(other, 'recipes/base.yaml'));
    const again = await bake('init', '--dir', other, '--name', 'x');
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/recipes\/base\.yaml: is a symbolic link to nothing \(dangling\)/);
    expect((await lstat(path.join(other, 'recipes/base.yaml'))).isSymbolicLink()).toBe(true);
    expect(await readdir(outside)).toEqual([]);
  });

  it("gives the bakery the repository's own Jenkinsfile pipeline, calling the installed bake through npx", async () => {
    const dir = await newDir();
    expect((await bake('init', '--dir', dir, '--name', 'x')).exitCode).toBe(0);
    const ours = await readFile(path.join(repo, 'Jenkinsfile'), 'utf8');
    const scaffold = await readFile(path.join(dir, 'Jenkinsfile'), 'utf8');
    const pipeline = (text: string) => text.slice(text.indexOf('\npipeline {'));
    expect(pipeline(scaffold)).toBe(pipeline(ours).replaceAll('./bin/bake.js', 'npx --no-install bake'));
    expect(scaffold).toMatch(/^\/\/ bake in Jenkins \(written by bake init\)/);
    expect(scaffold).toContain("sh 'npx --no-install bake validate'");
    expect(scaffold).not.toContain('bin/bake.js');
    // The nightly run scans before planning; a run started by hand does not, unless asked.
    expect(scaffold).toContain("cron('H 2 * * *')");
    expect(scaffold).toMatch(
      /stage\('Security scan'\) \{\n\s+when \{ anyOf \{ triggeredBy 'TimerTrigger'; expression \{ params\.SECURITY_SCAN \} \} \}/,
    );
    expect(scaffold).toContain("sh 'npx --no-install bake scan --json > scan.json'");
  });
});
