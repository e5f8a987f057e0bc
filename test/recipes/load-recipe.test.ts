import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { minimalRole, problems, tempBakery } from './temp-bakery.js';

const complete = path.resolve(__dirname, '../fixtures/recipes/complete');

describe('loading a recipe', () => {
  it('reads every key of the recipe format into the Recipe model', async () => {
    const bakery = await loadBakery(complete);
    const app = bakery.recipes.find((r) => r.name === 'app')!;
    expect(app).toMatchObject({
      name: 'app',
      description: 'The application server',
      file: path.join(complete, 'recipes/app.yaml'),
      base: { kind: 'ssm', parameter: '/aws/service/debian/release/12/latest/amd64' },
      regions: ['us-east-1', 'eu-west-1'],
      instanceType: 'c6i.large',
      sshUsername: 'admin',
      subnetId: 'subnet-0fedcba9876543210',
      volumeSizeGb: 16,
      encrypted: true,
      kmsKeyIds: { 'us-east-1': 'alias/ami-us', 'eu-west-1': 'arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f' },
      imdsv2: false,
      shareWith: ['123456789012', 'arn:aws:organizations::123456789012:ou/o-abcdef1234/ou-ab12-abcdefgh'],
      deprecateAfterDays: 30,
    });
    expect(app.roles.map((r) => [r.name, r.vars])).toEqual([
      ['base', {}],
      ['app', { app_port: 8080 }],
    ]);
    expect(app.cloudInit).toMatchObject([{ template: 'app.yaml.hbs', vars: { greeting: 'hello' } }]);
    expect(app.verify.map(({ location: _, ...check }) => check)).toEqual([
      { kind: 'command', command: 'app --version' },
      { kind: 'file', path: '/etc/app.conf', contains: 'port = 8080' },
      { kind: 'package', name: 'app' },
      { kind: 'service', name: 'app' },
      { kind: 'port', port: 8080 },
    ]);
  });

  it('resolves pin files relative to the recipe file and defaults the format to a map', async () => {
    const app = (await loadBakery(complete)).recipes.find((r) => r.name === 'app')!;
    expect(app.pin.map(({ location: _, ...target }) => target)).toEqual([
      { file: path.join(complete, 'infra/amis.auto.tfvars'), fileAsWritten: '../infra/amis.auto.tfvars', variable: 'app_ami', key: undefined, format: 'map' },
      { file: path.join(complete, 'infra/amis.auto.tfvars'), fileAsWritten: '../infra/amis.auto.tfvars', variable: 'all_amis', key: 'app', format: 'map' },
      { file: path.join(complete, 'infra/single.tfvars'), fileAsWritten: '../infra/single.tfvars', variable: 'app_ami_id', key: undefined, format: 'string' },
    ]);
  });

  it('remembers where each key, role, template, pin and check was written', async () => {
    const app = (await loadBakery(complete)).recipes.find((r) => r.name === 'app')!;
    const file = path.join(complete, 'recipes/app.yaml');
    expect(app.locations.roles).toEqual({ file, line: 9, col: 1 });
    expect(app.locations.verify).toEqual({ file, line: 39, col: 1 });
    expect(app.roles[1].location).toEqual({ file, line: 11, col: 5 });
    expect(app.cloudInit[0].location).toEqual({ file, line: 14, col: 5 });
    expect(app.pin[2].location).toEqual({ file, line: 25, col: 5 });
    expect(app.verify[4].location).toEqual({ file, line: 45, col: 5 });
  });

  it('takes what a recipe leaves out from bake.config.yaml, and merges tags with the recipe winning', async () => {
    const bakery = await loadBakery(complete);
    const minimal = bakery.recipes.find((r) => r.name === 'minimal')!;
    expect(minimal).toMatchObject({
      base: { kind: 'ami', ami: 'ami-0123456789abcdef0' },
      description: '',
      regions: ['us-east-1', 'eu-west-1', 'ap-south-1'],
      instanceType: 't3.micro',
      sshUsername: 'debian',
      subnetId: 'subnet-0123456789abcdef0',
      encrypted: false,
      imdsv2: true,
      deprecateAfterDays: 90,
      tags: { owner: 'platform', 'cost-center': '42' },
      roles: [],
      cloudInit: [],
      pin: [],
      ssmPins: [],
      verify: [],
      ansibleEnv: [],
      kmsKeyIds: {},
      shareWith: [],
    });
    const app = bakery.recipes.find((r) => r.name === 'app')!;
    expect(app.tags).toEqual({ owner: 'app-team', 'cost-center': '42', service: 'app' });
  });

  it('encrypts and requires IMDSv2 by default when there is no bake.config.yaml', async () => {
    const root = await tempBakery({ 'recipes/lone.yaml': 'name: lone\nbase: { filter: { name: "debian-12-*", owners: [amazon] } }\n' });
    const [lone] = (await loadBakery(root)).recipes;
    expect(lone).toMatchObject({ base: { kind: 'filter', name: 'debian-12-*', owners: ['amazon'] }, encrypted: true, imdsv2: true, tags: {} });
    expect(lone.deprecateAfterDays).toBeUndefined();
  });

  it('lists the recipes in file-name order', async () => {
    const bakery = await loadBakery(complete);
    expect(bakery.recipes.map((r) => r.name)).toEqual(['app', 'child', 'minimal']);
    expect(bakery.root).toBe(complete);
  });
});

describe('refusing a bad recipe', () => {
  it('points at an unknown key, nested ones too', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'recipes/a.yaml': 'name: a\nbase: { ami: ami-12345678 }\ncolour: blue\nroles:\n  - name: common\n    varz: {}\n',
    });
    expect(await problems(root, loadBakery)).toEqual(['recipes/a.yaml:3:1: unknown key colour', 'recipes/a.yaml:6:5: unknown key varz']);
  });

  it('requires the name to match the file name and the name pattern', async () => {
    const root = await tempBakery({
      'recipes/web.yaml': 'name: api\nbase: { ami: ami-12345678 }\n',
      'recipes/Bad_Name.yaml': 'name: Bad_Name\nbase: { ami: ami-12345678 }\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/Bad_Name.yaml:1:7: name: lower-case letters, digits and dashes',
      'recipes/web.yaml:1:7: name api must match the file name (web)',
    ]);
  });

  it('wants exactly one kind of base image', async () => {
    const root = await tempBakery({
      'recipes/none.yaml': 'name: none\n',
      'recipes/two.yaml': 'name: two\nbase:\n  ami: ami-12345678\n  ssm: /aws/x\n',
      'recipes/badami.yaml': 'name: badami\nbase:\n  ami: ubuntu\n',
      'recipes/owners.yaml': 'name: owners\nbase:\n  filter: { name: "x-*" }\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/badami.yaml:3:8: base.ami: not an AMI id',
      'recipes/none.yaml:1:1: missing base',
      'recipes/owners.yaml:3:11: missing base.filter.owners',
      'recipes/two.yaml:3:3: base: exactly one of ami: ami-…, filter: {name, owners}, ssm: /parameter, recipe: name',
    ]);
  });

  it('explains a verify check that is none of the known kinds', async () => {
    const root = await tempBakery({ 'recipes/v.yaml': 'name: v\nbase: { ami: ami-12345678 }\nverify:\n  - command: "true"\n  - url: http://localhost\n' });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/v.yaml:5:5: verify.1: a check is exactly one of {command}, {file, contains?}, {package}, {service}, {port}',
    ]);
  });

  it('keeps the bake: and aws: tag prefixes and the Name tag for bake and AWS', async () => {
    const root = await tempBakery({
      'bake.config.yaml': 'tags:\n  bake:owner: x\n',
      'recipes/t.yaml': 'name: t\nbase: { ami: ami-12345678 }\ntags:\n  team: a\n  bake:recipe: other\n  aws:cloudformation: x\n  Name: mine\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'bake.config.yaml:2:3: tag bake:owner: the bake: and aws: prefixes are reserved',
      'recipes/t.yaml:5:3: tag bake:recipe: the bake: and aws: prefixes are reserved',
      'recipes/t.yaml:6:3: tag aws:cloudformation: the bake: and aws: prefixes are reserved',
      'recipes/t.yaml:7:3: tag Name is set by bake (recipe, fingerprint and build time)',
    ]);
  });

  it('refuses more tags than EC2 leaves room for beside bake’s own', async () => {
    const tags = Array.from({ length: 41 }, (_, i) => `  t${i}: v\n`).join('');
    const root = await tempBakery({ 'recipes/many.yaml': `name: many\nbase: { ami: ami-12345678 }\ntags:\n${tags}` });
    expect(await problems(root, loadBakery)).toEqual(['recipes/many.yaml:4:3: at most 36 tags (EC2 allows 50, bake uses the rest)']);
  });

  it('requires tag values to be strings and share_with entries to be accounts or organization ARNs', async () => {
    const root = await tempBakery({
      'recipes/s.yaml': 'name: s\nbase: { ami: ami-12345678 }\ntags: { port: 80 }\nshare_with: ["12345", arn:aws:organizations::123456789012:organization/o-abcdef1234]\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/s.yaml:3:15: tags.port: expected string, received number',
      'recipes/s.yaml:4:14: share_with.0: an account id (12 digits), an organization ARN (arn:aws:organizations::<account>:organization/o-…) or an OU ARN (…:ou/o-…/ou-…-…)',
    ]);
  });

  it('names the expected type of a value of the wrong type', async () => {
    const root = await tempBakery({ 'recipes/v.yaml': 'name: v\nbase: { ami: ami-12345678 }\nvolume_size: big\nencrypted: "yes"\n' });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/v.yaml:3:14: volume_size: expected number, received string',
      'recipes/v.yaml:4:12: encrypted: expected boolean, received string',
    ]);
  });

  it('wants a KMS key only for regions the recipe builds in', async () => {
    const root = await tempBakery({ 'recipes/k.yaml': 'name: k\nbase: { ami: ami-12345678 }\nregions: [us-east-1]\nkms_key_ids:\n  eu-west-1: alias/x\n' });
    expect(await problems(root, loadBakery)).toEqual(['recipes/k.yaml:5:3: kms_key_ids names eu-west-1, which is not in regions']);
  });

  it('refuses to share an image encrypted with the default EBS key, which AWS cannot share', async () => {
    const root = await tempBakery({
      'recipes/s.yaml': 'name: s\nbase: { ami: ami-12345678 }\nregions: [us-east-1, eu-west-1]\nkms_key_ids: { us-east-1: alias/shared }\nshare_with: ["123456789012"]\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/s.yaml:5:1: share_with needs a customer managed KMS key in kms_key_ids for eu-west-1: images encrypted with the default EBS key cannot be shared',
    ]);
  });

  it('wants encryption on when KMS keys are given, and each region once', async () => {
    const root = await tempBakery({
      'recipes/e.yaml': 'name: e\nbase: { ami: ami-12345678 }\nregions: [us-east-1, us-east-1]\nencrypted: false\nkms_key_ids: { us-east-1: alias/x }\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/e.yaml:3:10: regions lists us-east-1 more than once',
      'recipes/e.yaml:5:1: kms_key_ids needs encrypted: true',
    ]);
  });

  it('reports a YAML syntax error at its position', async () => {
    const root = await tempBakery({ 'recipes/y.yaml': 'name: y\nbase: { ami: ami-12345678\nregions: [us-east-1]\n' });
    const [line] = await problems(root, loadBakery);
    expect(line).toMatch(/^recipes\/y\.yaml:\d+:\d+: \S/);
    expect(line).not.toContain('\n');
  });

  it('reports a key written twice', async () => {
    const root = await tempBakery({ 'recipes/d.yaml': 'name: d\nbase: { ami: ami-12345678 }\nname: d\n' });
    expect(await problems(root, loadBakery)).toEqual([expect.stringMatching(/^recipes\/d\.yaml:3:1: .*unique/i)]);
  });

  it('refuses a bakery without recipes', async () => {
    const root = await tempBakery({ 'bake.config.yaml': 'regions: [us-east-1]\n' });
    expect(await problems(root, loadBakery)).toEqual(['recipes:1:1: no recipes found (expected recipes/*.yaml)']);
  });

  it('reports every problem of every file at once, sorted by file then line', async () => {
    const root = await tempBakery({
      'bake.config.yaml': 'instance_typo: t3.small\n',
      'recipes/b.yaml': 'name: b\nbase: { recipe: nowhere }\nroles: [ghost]\n',
      'recipes/a.yaml': 'name: a\nbase: { ami: ami-12345678 }\ntags: { "bake:x": y }\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'bake.config.yaml:1:1: unknown key instance_typo',
      'recipes/a.yaml:3:9: tag bake:x: the bake: and aws: prefixes are reserved',
      'recipes/b.yaml:2:17: unknown parent recipe nowhere (known: a, b)',
      'recipes/b.yaml:3:9: unknown role ghost (not under roles/ nor in roles/requirements.yml)',
    ]);
  });
});
