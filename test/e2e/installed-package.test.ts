/**
 * bake as a user gets it (#26): `npm pack`, the tarball installed into a new git repository that
 * is not bake's, and the README's path run there with `npx bake` — init, validate, verify,
 * build --local with real Packer 1.6.6, real Ansible and the local cloud — to a launch-tested
 * image pinned in the scaffold's tfvars. Nothing may be read from bake's source tree.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { bakeEnv, git, repo } from './local-bakery.js';

const env = bakeEnv();

/**
 * A package-lock.json for a project whose only dependency is bake's tarball: bake's own lock,
 * without its development packages, lands at the same node_modules paths there. With it, npm
 * installs from its cache alone (`--offline`): the test sends nothing to the registry.
 */
async function offlineLock(project: string, tarball: string): Promise<void> {
  const lock = JSON.parse(await readFile(path.join(repo, 'package-lock.json'), 'utf8'));
  const manifest = JSON.parse(await readFile(path.join(project, 'package.json'), 'utf8'));
  const bake = lock.packages[''];
  const packages: Record<string, unknown> = {
    '': { name: manifest.name, version: manifest.version, devDependencies: { bake: `file:${tarball}` } },
    'node_modules/bake': {
      version: bake.version,
      resolved: `file:${tarball}`,
      dev: true,
      license: bake.license,
      dependencies: bake.dependencies,
      bin: bake.bin,
      engines: bake.engines,
    },
  };
  for (const [where, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>))
    if (where !== '' && !entry.dev) packages[where] = { ...entry, dev: true };
  await writeFile(
    path.join(project, 'package-lock.json'),
    `${JSON.stringify({ name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

describe('bake installed from its npm package into another repository', () => {
  it('takes a new bakery from npx bake init to a launch-tested image pinned in its tfvars', async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'bake-installed-'));
    // `npm run test:e2e` has just built dist/; prepare would rebuild it under the feet of other tests.
    const pack = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: repo });
    const [packed] = JSON.parse(pack.stdout) as [{ filename: string; size: number; unpackedSize: number }];
    console.log(
      `npm pack: ${packed.filename} ${(packed.size / 1024).toFixed(0)} kB (${(packed.unpackedSize / 1024).toFixed(0)} kB unpacked)`,
    );

    const bakery = path.join(work, 'images');
    await mkdir(bakery);
    await git(bakery, 'init', '-q');
    await git(bakery, 'remote', 'add', 'origin', 'https://git.example.com/platform/images.git');
    await execa('npm', ['init', '-y'], { cwd: bakery });
    await offlineLock(bakery, `../${packed.filename}`);
    const npx = (...args: string[]) =>
      execa('npx', ['--no-install', 'bake', ...args], { cwd: bakery, env, reject: false });

    const started = Date.now();
    // The README's install line.
    const install = await execa(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--save-dev', `../${packed.filename}`],
      { cwd: bakery, reject: false },
    );
    expect(install.exitCode, install.stderr).toBe(0);
    console.log(`npm install: ${seconds(started)}`);
    const manifest = JSON.parse(await readFile(path.join(bakery, 'package.json'), 'utf8'));
    expect(manifest.devDependencies).toEqual({ bake: `file:../${packed.filename}` });

    const version = await npx('--version');
    expect(version.exitCode, version.stderr).toBe(0);
    const { version: bakeVersion } = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8'));
    expect(version.stdout.split('\n')[0]).toBe(`bake ${bakeVersion}`);

    const init = await npx('init');
    expect(init.exitCode, init.stderr).toBe(0);
    expect(init.stdout).toContain('created recipes/base.yaml');
    // Named after the git remote, written into the config so every agent agrees.
    const config = parseYaml(await readFile(path.join(bakery, 'bake.config.yaml'), 'utf8'));
    expect(config.bakery).toMatch(/images/);
    const recipe = await readFile(path.join(bakery, 'recipes/base.yaml'), 'utf8');
    expect(recipe).toMatch(
      /^# yaml-language-server: \$schema=\.\.\/node_modules\/bake\/schema\/recipe\.schema\.json\n/,
    );
    expect(
      JSON.parse(await readFile(path.join(bakery, 'node_modules/bake/schema/recipe.schema.json'), 'utf8')),
    ).toHaveProperty('properties.name');
    expect(await readFile(path.join(bakery, 'Jenkinsfile'), 'utf8')).toContain("sh 'npx --no-install bake validate'");

    const validate = await npx('validate');
    expect(validate.exitCode, validate.stderr).toBe(0);
    await git(bakery, 'add', '-A');
    await git(bakery, 'commit', '-qm', 'bake init');

    // The role author's loop: roles and checks in a kept local instance, then removed.
    const verify = await npx('verify', 'base');
    console.log(`bake verify base: ${seconds(started)} since npm install`);
    expect(verify.exitCode, verify.stderr.slice(-3000)).toBe(0);
    expect((await npx('verify', '--destroy')).exitCode).toBe(0);

    const build = await npx('build', '--local', '--json');
    console.log(`npm install → first local build: ${seconds(started)}`);
    expect(build.exitCode, build.stderr.slice(-3000)).toBe(0);
    const report = JSON.parse(build.stdout) as {
      recipes: {
        name: string;
        status: string;
        amis: Record<string, string>;
        log: string;
        launch_test: { status: string };
      }[];
    };
    expect(report.recipes.map((r) => [r.name, r.status, r.launch_test.status])).toEqual([['base', 'built', 'passed']]);
    const ami = report.recipes[0].amis['us-east-1'];
    expect(await readFile(path.join(bakery, 'infra/app/dev.tfvars'), 'utf8')).toContain(`us-east-1 = "${ami}"`);
    // prod gets it from bake promote, not from the build.
    expect(await readFile(path.join(bakery, 'infra/app/prod.tfvars'), 'utf8')).not.toContain(ami);

    // Everything bake read came from node_modules/bake, never from bake's own tree.
    const log = await readFile(report.recipes[0].log, 'utf8');
    for (const folder of ['src', 'dist', 'templates', 'schema']) expect(log).not.toContain(path.join(repo, folder));
    expect(build.stderr).not.toContain(path.join(repo, 'dist'));

    // The plan after it: nothing to do.
    const plan = await npx('plan', '--local', '--detailed-exitcode');
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(`base: reuse ${ami} (us-east-1)`);

    await rm(work, { recursive: true, force: true });
  });
});
