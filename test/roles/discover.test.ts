import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverRoles, listRoleFiles, roleClosure } from '../../src/roles/index.js';
import { tempBakery } from '../recipes/temp-bakery.js';

const bakery = path.resolve(__dirname, '../fixtures/roles/bakery');
const lines = (errors: { toLine(): string }[], root: string) => errors.map((e) => e.toLine().split(`${root}${path.sep}`).join(''));

describe('finding roles', () => {
  it('finds local roles with their meta/main.yml dependencies, names or {role: name}', async () => {
    const { roles } = await discoverRoles(bakery);
    expect(roles.get('web')).toEqual({ name: 'web', dir: path.join(bakery, 'roles/web'), dependencies: ['users', 'tls'], source: 'local' });
    expect(roles.get('users')).toMatchObject({ dependencies: [], source: 'local' });
  });

  it('takes galaxy roles from roles/requirements.yml with their pinned version, installed or not', async () => {
    const { roles } = await discoverRoles(bakery);
    expect(roles.get('geerlingguy.docker')).toMatchObject({
      name: 'geerlingguy.docker',
      dir: path.join(bakery, 'roles/geerlingguy.docker'),
      dependencies: [],
      source: 'galaxy',
      version: '7.4.1',
      src: 'geerlingguy.docker',
      versionLocation: { file: path.join(bakery, 'roles/requirements.yml'), line: 4, col: 12 },
    });
    expect(roles.get('ansible-role-ntp')).toMatchObject({ source: 'galaxy', version: '3f2a9c1', src: 'https://github.com/example/ansible-role-ntp.git' });
  });

  it('reports a role folder without tasks/main.yml', async () => {
    const { roles, errors } = await discoverRoles(bakery);
    expect(roles.has('halfdone')).toBe(false);
    expect(lines(errors, bakery)).toEqual(['roles/halfdone:1:1: role halfdone has no tasks/main.yml']);
  });

  it('finds nothing, and no problem, in a bakery without roles/', async () => {
    const root = await tempBakery({ 'recipes/a.yaml': 'name: a\n' });
    expect(await discoverRoles(root)).toEqual({ roles: new Map(), errors: [] });
  });
});

describe('galaxy requirements', () => {
  it('refuses a role whose version is missing or a branch that moves', async () => {
    const root = await tempBakery({
      'roles/requirements.yml': [
        '- src: geerlingguy.nginx',
        '- src: https://github.com/example/ansible-role-a.git',
        '  name: a',
        '  version: main',
        '- { src: example.b, version: HEAD }',
        '- { src: example.c, version: master }',
        '- { src: example.d, version: v1.2.0 }',
        '- name: nosrc',
        '  version: 1.0.0',
        '',
      ].join('\n'),
    });
    const { roles, errors } = await discoverRoles(root);
    expect(lines(errors, root)).toEqual([
      'roles/requirements.yml:1:3: galaxy role geerlingguy.nginx must pin a version (a tag or commit), not none',
      'roles/requirements.yml:4:12: galaxy role a must pin a version (a tag or commit), not "main"',
      'roles/requirements.yml:5:30: galaxy role example.b must pin a version (a tag or commit), not "HEAD"',
      'roles/requirements.yml:6:30: galaxy role example.c must pin a version (a tag or commit), not "master"',
      'roles/requirements.yml:8:3: a galaxy requirement needs src (and name, version)',
    ]);
    // still known roles, so a recipe naming one gets the pinning error only
    expect([...roles.keys()]).toEqual(['geerlingguy.nginx', 'a', 'example.b', 'example.c', 'example.d']);
    expect(roles.get('example.d')).toMatchObject({ source: 'galaxy', version: 'v1.2.0' });
  });

  it('refuses a role name that is a path, which would put the role outside roles/', async () => {
    const root = await tempBakery({
      'roles/requirements.yml': [
        '- { src: example.a, name: ../../etc/cron.d, version: v1 }',
        '- { src: example.b, name: nested/role, version: v1 }',
        '- { src: example.c, name: .., version: v1 }',
        '- { src: "https://example.com/x/..", version: v1 }',
        '- { src: example.ok, name: example.ok_role-2, version: v1 }',
        '',
      ].join('\n'),
    });
    const { roles, errors } = await discoverRoles(root);
    expect(lines(errors, root)).toEqual([
      'roles/requirements.yml:1:27: galaxy role name "../../etc/cron.d" is not a plain name (letters, digits, _ . -; no / or ..)',
      'roles/requirements.yml:2:27: galaxy role name "nested/role" is not a plain name (letters, digits, _ . -; no / or ..)',
      'roles/requirements.yml:3:27: galaxy role name ".." is not a plain name (letters, digits, _ . -; no / or ..)',
      'roles/requirements.yml:4:3: galaxy role name ".." is not a plain name (letters, digits, _ . -; no / or ..)',
    ]);
    expect([...roles.keys()]).toEqual(['example.ok_role-2']);
  });

  it('reads the `roles:` form that sits beside `collections:`', async () => {
    const root = await tempBakery({
      'roles/requirements.yml': 'collections:\n  - name: community.general\nroles:\n  - src: example.ntp\n    version: "2.0"\n',
    });
    const { roles, errors } = await discoverRoles(root);
    expect(errors).toEqual([]);
    expect(roles.get('example.ntp')).toMatchObject({ source: 'galaxy', version: '2.0' });
  });
});

describe('role dependencies', () => {
  it('lists a recipe’s roles dependencies first, each once', async () => {
    const { roles } = await discoverRoles(bakery);
    expect(roleClosure(roles, ['web', 'users', 'geerlingguy.docker']).map((r) => r.name)).toEqual(['users', 'tls', 'web', 'geerlingguy.docker']);
  });

  it('reports a dependency on a role that does not exist, at its line in meta/main.yml', async () => {
    const root = await tempBakery({
      'roles/app/tasks/main.yml': '[]\n',
      'roles/app/meta/main.yml': 'dependencies:\n  - common\n  - role: missing\n',
      'roles/common/tasks/main.yml': '[]\n',
    });
    expect(lines((await discoverRoles(root)).errors, root)).toEqual(['roles/app/meta/main.yml:3:5: role app depends on unknown role missing']);
  });

  it('reports a dependency cycle with the roles that go round', async () => {
    const root = await tempBakery({
      'roles/a/tasks/main.yml': '[]\n',
      'roles/a/meta/main.yml': 'dependencies: [b]\n',
      'roles/b/tasks/main.yml': '[]\n',
      'roles/b/meta/main.yml': 'dependencies:\n  - c\n',
      'roles/c/tasks/main.yml': '[]\n',
      'roles/c/meta/main.yml': 'dependencies:\n  - role: a\n',
    });
    expect(lines((await discoverRoles(root)).errors, root)).toEqual(['roles/c/meta/main.yml:2:5: role dependency cycle: a → b → c → a']);
  });

  it('reports a meta/main.yml that does not parse, at its position', async () => {
    const root = await tempBakery({ 'roles/a/tasks/main.yml': '[]\n', 'roles/a/meta/main.yml': 'dependencies: [b\n' });
    const errors = lines((await discoverRoles(root)).errors, root);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^roles\/a\/meta\/main\.yml:\d+:\d+: \S/);
  });
});

describe('the files of a role', () => {
  it('lists every file of a local role, relative and sorted', async () => {
    const { roles } = await discoverRoles(bakery);
    expect(await listRoleFiles(roles.get('web')!)).toEqual(['meta/main.yml', 'tasks/main.yml', 'templates/site.conf.j2']);
  });

  it('lists no files for a galaxy role: its pinned version stands for them', async () => {
    const { roles } = await discoverRoles(bakery);
    expect(await listRoleFiles(roles.get('geerlingguy.docker')!)).toEqual([]);
  });
});
