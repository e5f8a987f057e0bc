/**
 * bake installs galaxy requirements itself, from real git repositories on this machine
 * (`git+file://…`; public Galaxy is not reachable here) with the real ansible-galaxy.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { RecipeErrors } from '../../src/errors/index.js';
import { fingerprintOf, recipeInputs } from '../../src/fingerprint/fingerprint.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { installGalaxyRequirements } from '../../src/roles/galaxy-install.js';

let scratch: string;
let roleRepo: string;
let collectionRepo: string;
const commits: Record<string, string> = {};

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await execa('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd })).stdout.trim();
}

async function files(root: string, entries: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(entries)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'bake-galaxy-'));
  roleRepo = path.join(scratch, 'ansible-role-motd');
  await files(roleRepo, {
    'tasks/main.yml': '- ansible.builtin.copy: { content: "v1\\n", dest: /tmp/motd }\n',
    'meta/main.yml': 'galaxy_info: { author: t, description: motd, license: MIT, min_ansible_version: "2.14" }\n',
  });
  await git(roleRepo, 'init', '-q');
  await git(roleRepo, 'add', '-A');
  await git(roleRepo, 'commit', '-qm', 'v1');
  await git(roleRepo, 'tag', '-a', 'v1.0.0', '-m', 'v1.0.0');
  commits.v1 = await git(roleRepo, 'rev-parse', 'HEAD');
  await writeFile(path.join(roleRepo, 'tasks/main.yml'), '- ansible.builtin.copy: { content: "v2\\n", dest: /tmp/motd }\n');
  await git(roleRepo, 'commit', '-qam', 'v2');
  await git(roleRepo, 'tag', 'v2.0.0');
  commits.v2 = await git(roleRepo, 'rev-parse', 'HEAD');

  collectionRepo = path.join(scratch, 'acme-tools');
  await files(collectionRepo, {
    'galaxy.yml': 'namespace: acme\nname: tools\nversion: 1.0.0\nreadme: README.md\nauthors: [t]\n',
    'README.md': 'acme.tools\n',
    'roles/hello/tasks/main.yml': '- ansible.builtin.debug: { msg: hello }\n',
  });
  await git(collectionRepo, 'init', '-q');
  await git(collectionRepo, 'add', '-A');
  await git(collectionRepo, 'commit', '-qm', 'tools');
  await git(collectionRepo, 'tag', '1.0.0');
  commits.tools = await git(collectionRepo, 'rev-parse', 'HEAD');
});

async function bakery(roleVersion: string, extra: Record<string, string> = {}) {
  const root = await mkdtemp(path.join(scratch, 'bakery-'));
  await files(root, {
    'recipes/app.yaml': 'name: app\nbase: { ami: ami-0123456789abcdef0 }\nroles: [motd]\n',
    'roles/requirements.yml': `# pinned\n- src: git+file://${roleRepo}\n  name: motd\n  version: ${roleVersion}\n`,
    'collections/requirements.yml': `collections:\n  - name: git+file://${collectionRepo}\n    type: git\n    version: "1.0.0"\n`,
    ...extra,
  });
  return root;
}

const fingerprint = (b: Awaited<ReturnType<typeof loadBakery>>) =>
  fingerprintOf(recipeInputs(b.recipes[0], { bakery: b, ids: new Map(), baseAmi: 'ami-0123456789abcdef0', generator: 'g' })).value;

describe('galaxy requirements installed by bake', () => {
  it('installs a pinned git tag and a collection into the cache, records the commit, and the fingerprint carries it', async () => {
    const cacheDir = path.join(scratch, 'cache-1');
    const loaded = await loadBakery(await bakery('v1.0.0'));
    const fetched: string[] = [];
    await installGalaxyRequirements(loaded, { cacheDir, log: (line) => fetched.push(line) });
    const motd = loaded.roles.get('motd')!;
    expect(motd.commit).toBe(commits.v1);
    expect(motd.dir.startsWith(cacheDir)).toBe(true);
    expect(await readFile(path.join(motd.dir, 'tasks/main.yml'), 'utf8')).toContain('v1');
    const [tools] = loaded.collections!;
    expect(tools.commit).toBe(commits.tools);
    expect(existsSync(path.join(tools.dir!, 'ansible_collections/acme/tools/roles/hello/tasks/main.yml'))).toBe(true);
    expect(fetched).toEqual(['installing galaxy role motd v1.0.0', 'installing galaxy collection git+file://' + collectionRepo + ' 1.0.0']);
    const inputs = recipeInputs(loaded.recipes[0], { bakery: loaded, ids: new Map(), baseAmi: 'ami-0123456789abcdef0', generator: 'g' });
    expect(inputs.roles.motd).toBe(`git+file://${roleRepo}@v1.0.0 (${commits.v1})`);
    expect(inputs.roles[`collection:git+file://${collectionRepo}`]).toBe(`git+file://${collectionRepo}@1.0.0 (${commits.tools})`);
  });

  it('keeps its cache to bake alone: made 0700, an older looser one tightened, a link or another user\'s refused', async () => {
    const made = path.join(scratch, 'cache-private', 'galaxy');
    await installGalaxyRequirements(await loadBakery(await bakery('v1.0.0')), { cacheDir: made });
    expect(statSync(made).mode & 0o777).toBe(0o700);
    const older = path.join(scratch, 'cache-older');
    await mkdir(older, { mode: 0o755 });
    await chmod(older, 0o755);
    await installGalaxyRequirements(await loadBakery(await bakery('v1.0.0')), { cacheDir: older });
    expect(statSync(older).mode & 0o777).toBe(0o700);
    const theirs = path.join(scratch, 'cache-theirs');
    await mkdir(theirs, { mode: 0o700 });
    await chown(theirs, 65534, 65534);
    await expect(installGalaxyRequirements(await loadBakery(await bakery('v1.0.0')), { cacheDir: theirs })).rejects.toThrow(/owned by uid 65534/);
    const link = path.join(scratch, 'cache-link');
    await symlink(theirs, link);
    await expect(installGalaxyRequirements(await loadBakery(await bakery('v1.0.0')), { cacheDir: link })).rejects.toThrow(/is a symbolic link/);
    expect(readdirSync(theirs)).toEqual([]);
  });

  it('runs offline from the cache with the same versions, and fetches again for a changed one', async () => {
    const cacheDir = path.join(scratch, 'cache-2');
    const first = await loadBakery(await bakery('v1.0.0'));
    await installGalaxyRequirements(first, { cacheDir });
    const before = fingerprint(first);

    // The sources are gone: only the cache can answer.
    await rename(roleRepo, `${roleRepo}.away`);
    await rename(collectionRepo, `${collectionRepo}.away`);
    try {
      const again = await loadBakery(await bakery('v1.0.0'));
      const fetched: string[] = [];
      await installGalaxyRequirements(again, { cacheDir, log: (line) => fetched.push(line) });
      expect(fetched).toEqual([]);
      expect(again.roles.get('motd')!.commit).toBe(commits.v1);
      expect(fingerprint(again)).toBe(before);
    } finally {
      await rename(`${roleRepo}.away`, roleRepo);
      await rename(`${collectionRepo}.away`, collectionRepo);
    }

    const bumped = await loadBakery(await bakery('v2.0.0'));
    const fetched: string[] = [];
    await installGalaxyRequirements(bumped, { cacheDir, log: (line) => fetched.push(line) });
    expect(fetched).toEqual(['installing galaxy role motd v2.0.0']);
    expect(bumped.roles.get('motd')!.commit).toBe(commits.v2);
    expect(await readFile(path.join(bumped.roles.get('motd')!.dir, 'tasks/main.yml'), 'utf8')).toContain('v2');
    expect(fingerprint(bumped)).not.toBe(before);
  });

  it('names requirements.yml:line for a missing version and for an unreachable source', async () => {
    const cacheDir = path.join(scratch, 'cache-3');
    const missing = await loadBakery(await bakery('v9.9.9'));
    const error = await installGalaxyRequirements(missing, { cacheDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecipeErrors);
    const [line] = (error as RecipeErrors).errors.map((e) => e.toLine().replace(`${missing.root}/`, ''));
    expect(line).toBe(`roles/requirements.yml:4:12: galaxy motd: version v9.9.9 not found in git+file://${roleRepo}`);

    const root = await bakery('v1.0.0', {
      'roles/requirements.yml': `- src: git+file://${scratch}/no-such-repo\n  name: motd\n  version: v1.0.0\n`,
    });
    const unreachable = await loadBakery(root);
    const lines = await installGalaxyRequirements(unreachable, { cacheDir }).then(
      () => [],
      (e: RecipeErrors) => e.errors.map((x) => x.toLine().replace(`${root}/`, '')),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^roles\/requirements\.yml:1:3: galaxy motd: cannot fetch git\+file:\/\/.*no-such-repo: .*(does not exist|not appear to be a git repository)/);
  });

  it('bake validate installs them itself, and fails with one line at requirements.yml for a missing version', async () => {
    const bake = path.resolve('bin/bake.js');
    const env = { ...process.env, BAKE_GALAXY_CACHE: path.join(scratch, 'cache-cli') };
    const good = await execa('node', [bake, 'validate', '--dir', await bakery('v2.0.0')], { env, reject: false, all: true });
    expect(good.exitCode, good.all).toBe(0);
    // What it installs is progress: on stderr, so stdout keeps only the answer.
    expect(good.stderr).toContain('installing galaxy role motd v2.0.0');
    expect(good.stdout).not.toContain('installing');
    const root = await bakery('v3.0.0');
    const bad = await execa('node', [bake, 'validate', '--dir', root], { env, reject: false });
    expect(bad.exitCode).toBe(1);
    // The progress line saying what it tried, then the one error line.
    expect(bad.stderr.trim().split('\n').at(-1)).toBe(`${root}/roles/requirements.yml:4:12: galaxy motd: version v3.0.0 not found in git+file://${roleRepo}`);
  });

  it('refuses a galaxy role name that would be a path', async () => {
    const root = await bakery('v1.0.0', { 'roles/requirements.yml': `- src: git+file://${roleRepo}\n  name: ../motd\n  version: v1.0.0\n` });
    const error = await loadBakery(root).catch((e: unknown) => e);
    expect((error as RecipeErrors).errors.map((e) => e.toLine().replace(`${root}/`, ''))).toContain('roles/requirements.yml:2:9: galaxy role name "../motd" is not a plain name (letters, digits, _ . -; no / or ..)');
  });
});

describe('hostile galaxy requirements', () => {
  const bake = path.resolve('bin/bake.js');
  const secretEnv = { AWS_ACCESS_KEY_ID: 'AKIAHOSTILETEST00000', AWS_SECRET_ACCESS_KEY: 'hostile-secret-key', BAKE_SECRET_TOKEN: 'hostile-token' };

  it('refuses a src that ansible-galaxy would read as an option: validate runs no command and says file:line', async () => {
    // The attack seen: `-r` of a committed second requirements file whose git `src` is
    // `--upload-pack=COMMAND`; the command ran during `bake validate` with the job's AWS keys.
    const marker = path.join(scratch, `pwned-${Date.now()}`);
    const root = await bakery('v1.0.0', {
      'roles/requirements.yml': `- src: "-r${'{ROOT}'}/roles/evil"\n  name: x.yml\n  version: v1\n`,
    });
    await writeFile(path.join(root, 'roles/requirements.yml'), (await readFile(path.join(root, 'roles/requirements.yml'), 'utf8')).replace('{ROOT}', root));
    await files(root, {
      // ansible-galaxy reads `-r<root>/roles/evil,v1,x.yml`: the role spec `src,version,name` names this file.
      'roles/evil,v1,x.yml': `- src: "--upload-pack=env > ${marker};git-upload-pack"\n  scm: git\n  version: HEAD\n  name: "file://${roleRepo}"\n`,
      'recipes/app.yaml': 'name: app\nbase: { ami: ami-0123456789abcdef0 }\nroles: []\n',
    });
    const env = { ...process.env, ...secretEnv, BAKE_GALAXY_CACHE: path.join(scratch, 'cache-hostile') };
    const run = await execa('node', [bake, 'validate', '--dir', root], { env, cwd: root, reject: false });
    expect(existsSync(marker), existsSync(marker) ? await readFile(marker, 'utf8') : '').toBe(false);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(`${root}/roles/requirements.yml:1:8: galaxy requirement src "-r${root}/roles/evil" is refused: it starts with "-" (it would be read as an option)`);
  });

  it('refuses commas, whitespace and control characters in src, version and name, and hostile collection values', async () => {
    const root = await bakery('v1.0.0', {
      'roles/requirements.yml': [
        `- src: "git+file://${roleRepo},v9,other"\n  name: a\n  version: v1.0.0`,
        `- src: git+file://${roleRepo}\n  name: b\n  version: " v1.0.0"`,
        `- src: git+file://${roleRepo}\n  name: c\n  version: "v1\\tx"`,
        `- src: git+file://${roleRepo}\n  name: "-d"\n  version: v1.0.0`,
        '',
      ].join('\n'),
      'collections/requirements.yml': `collections:\n  - name: acme.tools\n    version: "--upload-pack=x"\n  - name: acme.more\n    version: 1.0.0\n    source: "-x"\n`,
      'recipes/app.yaml': 'name: app\nbase: { ami: ami-0123456789abcdef0 }\nroles: []\n',
    });
    const error = await loadBakery(root).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecipeErrors);
    const lines = (error as RecipeErrors).errors.map((e) => e.toLine().replace(`${root}/`, ''));
    expect(lines).toEqual(
      expect.arrayContaining([
        `roles/requirements.yml:1:8: galaxy requirement src "git+file://${roleRepo},v9,other" is refused: it holds a comma`,
        'roles/requirements.yml:6:12: galaxy requirement version " v1.0.0" is refused: it holds whitespace or a control character',
        'roles/requirements.yml:9:12: galaxy requirement version "v1\\tx" is refused: it holds whitespace or a control character',
        'roles/requirements.yml:11:9: galaxy requirement name "-d" is refused: it starts with "-" (it would be read as an option)',
        'collections/requirements.yml:3:14: galaxy requirement version "--upload-pack=x" is refused: it starts with "-" (it would be read as an option)',
        'collections/requirements.yml:6:13: galaxy requirement source "-x" is refused: it starts with "-" (it would be read as an option)',
      ]),
    );
  });

  it('runs ansible-galaxy and git without the job’s AWS keys or secrets in their environment', async () => {
    // A stand-in first on PATH records the environment bake gives the tools, then runs the real one.
    const bin = path.join(scratch, `bin-${Date.now()}`);
    const seen = path.join(bin, 'seen');
    await mkdir(seen, { recursive: true });
    for (const tool of ['ansible-galaxy', 'git']) {
      const real = (await execa('sh', ['-c', `command -v ${tool}`])).stdout.trim();
      await writeFile(path.join(bin, tool), `#!/bin/sh\nenv > "${seen}/${tool}.$$"\nexec ${real} "$@"\n`, { mode: 0o755 });
    }
    const env = { ...process.env, ...secretEnv, PATH: `${bin}:${process.env.PATH}`, BAKE_GALAXY_CACHE: path.join(scratch, `cache-env-${Date.now()}`) };
    const root = await bakery('v1.0.0');
    const run = await execa('node', [bake, 'validate', '--dir', root], { env, reject: false, all: true });
    expect(run.exitCode, run.all).toBe(0);
    const records = await readdir(seen);
    expect(records.filter((file) => file.startsWith('ansible-galaxy.')).length).toBe(2);
    // bake's own `git` in the bakery (its commit) is not a galaxy fetch: left out.
    const recorded = (await Promise.all(records.map((file) => readFile(path.join(seen, file), 'utf8')))).filter((text) => !text.split('\n').includes(`PWD=${root}`));
    // Two ansible-galaxy installs, git's clone and rev-parse of the mirror, and the clones ansible-galaxy makes.
    expect(recorded.length).toBeGreaterThanOrEqual(4);
    for (const text of recorded) {
      expect(text).not.toMatch(/AWS_|hostile-secret-key|hostile-token|AKIAHOSTILETEST/);
      expect(text).toMatch(/^PATH=/m);
    }
  });
});
