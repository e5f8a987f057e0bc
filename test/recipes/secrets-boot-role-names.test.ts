import { describe, expect, it } from 'vitest';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { validateBakery } from '../../src/pipeline/validate.js';
import { minimalRole, problems, tempBakery } from './temp-bakery.js';

const recipe = (extra: string) => ({ 'recipes/app.yaml': `name: app\nbase: { ami: ami-0123456789abcdef0 }\nroles: [common]\n${extra}`, ...minimalRole });

describe('secrets: in a recipe', () => {
  it('loads each as a name, a source and the line it is on', async () => {
    const root = await tempBakery(recipe('secrets:\n  repo_token: { env: REPO_TOKEN }\n  db_password: { ssm: /bakery/db_password }\n'));
    const [app] = (await loadBakery(root)).recipes;
    expect(app.secrets!.map(({ name, source, location }) => ({ name, source, line: location.line }))).toEqual([
      { name: 'repo_token', source: { kind: 'env', variable: 'REPO_TOKEN' }, line: 5 },
      { name: 'db_password', source: { kind: 'ssm', parameter: '/bakery/db_password' }, line: 6 },
    ]);
  });

  it('refuses names Ansible cannot use, sources that are neither env nor ssm, and bake’s own variables', async () => {
    const root = await tempBakery(
      recipe('secrets:\n  "repo-token": { env: REPO_TOKEN }\n  token: { file: /etc/token }\n  other: { env: "NOT A VAR" }\n'),
    );
    expect(await problems(root, validateBakery)).toEqual([
      'recipes/app.yaml:5:3: secrets.repo-token: a secret name is an Ansible variable name (letters, digits, _)',
      'recipes/app.yaml:6:10: secrets.token: a secret is {env: VARIABLE} or {ssm: /parameter}',
      'recipes/app.yaml:7:17: secrets.other.env: not an environment variable name',
    ]);
    const reserved = await tempBakery(recipe('secrets:\n  bake_recipe: { env: X }\n'));
    expect(await problems(reserved, validateBakery)).toEqual(["recipes/app.yaml:5:3: secret bake_recipe: the name is bake's own variable"]);
  });
});

describe('boot: in a recipe', () => {
  it('loads the roles to run at first boot', async () => {
    const root = await tempBakery(recipe('boot:\n  roles: [common, { name: common, vars: { x: 1 } }]\n  vars_from_user_data: true\n'));
    const [app] = (await loadBakery(root)).recipes;
    expect(app.boot).toMatchObject({ varsFromUserData: true, roles: [{ name: 'common', vars: {} }, { name: 'common', vars: { x: 1 } }] });
  });

  it('refuses an unknown boot role, an empty list and unknown keys', async () => {
    const root = await tempBakery(recipe('boot:\n  roles: [missing]\n'));
    expect(await problems(root, validateBakery)).toEqual(['recipes/app.yaml:5:11: unknown role missing (not under roles/ nor in roles/requirements.yml)']);
    const misspelt = await tempBakery(recipe('boot:\n  roles: [common]\n  vars_from_userdata: true\n'));
    expect(await problems(misspelt, validateBakery)).toEqual(['recipes/app.yaml:6:3: unknown key vars_from_userdata']);
    const empty = await tempBakery(recipe('boot:\n  roles: []\n'));
    expect((await problems(empty, validateBakery))[0]).toMatch(/^recipes\/app\.yaml:5:\d+: boot\.roles: /);
  });
});

describe('role names', () => {
  it('are refused where they would become paths: "/" and ".."', async () => {
    const root = await tempBakery({
      'recipes/app.yaml': 'name: app\nbase: { ami: ami-0123456789abcdef0 }\nroles: [common, a/b]\nboot:\n  roles: [../../etc]\n',
      ...minimalRole,
    });
    const lines = await problems(root, validateBakery);
    expect(lines).toEqual([
      'recipes/app.yaml:3:17: roles.1: a role name is letters, digits, "_", "-" and "." (no "/" nor "..")',
      'recipes/app.yaml:5:11: boot.roles.0: a role name is letters, digits, "_", "-" and "." (no "/" nor "..")',
    ]);
  });
});
