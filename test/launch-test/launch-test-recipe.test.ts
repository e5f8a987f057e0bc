/** `launch_test:` in a recipe: how it is read, what is refused (file:line:col), and its user-data. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { combineUserData, renderUserData } from '../../src/launch-test/user-data.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { validateBakery } from '../../src/pipeline/validate.js';
import { RecipeError } from '../../src/errors/index.js';
import { minimalRole, problems, tempBakery } from '../recipes/temp-bakery.js';

const complete = path.resolve(__dirname, '../fixtures/recipes/complete');
const recipe = (extra: string) => `name: svc\nbase:\n  ami: ami-0123456789abcdef0\nroles: [common]\n${extra}`;

describe('launch_test in a recipe', () => {
  it('reads user_data, checks, timeout and instance_type', async () => {
    const app = (await loadBakery(complete)).recipes.find((r) => r.name === 'app')!;
    expect(app.launchTest).toMatchObject({
      enabled: true,
      userData: [{ template: 'app-user-data.yaml.hbs', vars: { env: 'test' } }],
      checks: [{ kind: 'file', path: '/run/app-configured' }],
      timeoutMs: 15 * 60_000,
      instanceType: 't3.small',
    });
    expect(app.launchTest!.checks[0].location).toMatchObject({
      file: path.join(complete, 'recipes/app.yaml'),
      line: 51,
    });
  });

  it('is on by default (no user-data, the verify checks, 10 minutes), and off with launch_test: false', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'recipes/svc.yaml': recipe(''),
      'recipes/off.yaml': recipe('launch_test: false\n').replace('svc', 'off'),
      'recipes/on.yaml': recipe('launch_test: true\n').replace('svc', 'on'),
    });
    const [off, on, svc] = (await loadBakery(root)).recipes;
    expect(svc.launchTest).toMatchObject({ enabled: true, userData: [], checks: [], timeoutMs: 600_000 });
    expect(on.launchTest).toEqual({ ...svc.launchTest, location: on.launchTest!.location });
    expect(off.launchTest).toMatchObject({ enabled: false });
  });

  it('refuses a bad timeout, an unknown key and a check of no known form, each at its line', async () => {
    const cases: Array<[string, string]> = [
      ['launch_test:\n  timeout: soon\n', 'recipes/svc.yaml:6:12: launch_test.timeout: a duration such as 90s or 10m'],
      ['launch_test:\n  retries: 3\n', 'recipes/svc.yaml:6:3: unknown key retries'],
      [
        'launch_test:\n  checks:\n    - url: http://localhost/\n',
        'recipes/svc.yaml:7:7: launch_test.checks.0: a check is exactly one of {command}, {file, contains?}, {package}, {service}, {port}',
      ],
      [
        'launch_test: maybe\n',
        'recipes/svc.yaml:5:14: launch_test: launch_test is true, false or {user_data?, checks?, timeout?, instance_type?}',
      ],
    ];
    for (const [extra, problem] of cases) {
      const root = await tempBakery({ ...minimalRole, 'recipes/svc.yaml': recipe(extra) });
      expect(await problems(root, loadBakery)).toEqual([problem]);
    }
  });

  it('validate renders the user-data and reports a template problem at the recipe line that names it', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'cloud-init/ud.yaml.hbs': '#cloud-config\nwrite_files:\n  - path: /run/x\n    content: {{missing}}\n',
      'recipes/svc.yaml': recipe('launch_test:\n  user_data:\n    - template: ud.yaml.hbs\n'),
    });
    expect(await problems(root, validateBakery)).toEqual([
      'recipes/svc.yaml:7:7: cloud-init template ud.yaml.hbs: "missing" not defined in the recipe\'s vars',
    ]);
  });
});

describe('launch-test user-data', () => {
  it('quotes hostile vars as YAML values, as cloud_init does', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'cloud-init/ud.yaml.hbs':
        '#cloud-config\nwrite_files:\n  - path: /etc/bake/server_name\n    content: {{server_name}}\n',
      'recipes/svc.yaml': recipe(''),
    });
    const bakery = await loadBakery(root);
    const hostile = 'www.example.com\nruncmd: [rm -rf /]\n"quoted": {x: 1}';
    const text = await renderUserData(bakery, bakery.recipes[0], [
      { template: 'ud.yaml.hbs', vars: { server_name: hostile }, location: { file: 'x', line: 1, col: 1 } },
    ]);
    expect(parse(text, { version: '1.1' })).toEqual({
      write_files: [{ path: '/etc/bake/server_name', content: hostile }],
    });
  });

  it('puts several parts into one MIME multipart document cloud-init reads, with a boundary found in no part', () => {
    const text = combineUserData([
      { template: 'a.yaml.hbs', contentType: 'text/cloud-config', content: '#cloud-config\nhostname: a\n' },
      { template: 'b"\n.sh.hbs', contentType: 'text/x-shellscript', content: '#!/bin/sh\necho ==BAKE_USER_DATA_\n' },
    ]);
    const boundary = /boundary="([^"]+)"/.exec(text)![1];
    expect(text.split(`--${boundary}`)).toHaveLength(4);
    expect(text).toContain('Content-Type: text/cloud-config; charset="utf-8"');
    expect(text).toContain('Content-Type: text/x-shellscript; charset="utf-8"');
    expect(text).toContain('Content-Disposition: attachment; filename="b__.sh.hbs"');
    expect(text.endsWith(`--${boundary}--\n`)).toBe(true);
  });

  it('refuses text cloud-init would not take as user-data, and more than EC2’s 16 KB', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'cloud-init/plain.hbs': 'hello\n',
      'cloud-init/big.yaml.hbs': '#cloud-config\n# {{{pad}}}\n',
      'recipes/svc.yaml': recipe(''),
    });
    const bakery = await loadBakery(root);
    const at = { file: 'recipes/svc.yaml', line: 7, col: 7 };
    await expect(
      renderUserData(bakery, bakery.recipes[0], [{ template: 'plain.hbs', vars: {}, location: at }]),
    ).rejects.toThrow(RecipeError);
    await expect(
      renderUserData(bakery, bakery.recipes[0], [
        { template: 'big.yaml.hbs', vars: { pad: 'x'.repeat(17_000) }, location: at },
      ]),
    ).rejects.toThrow(/at most 16384/);
  });
});
