import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

// The built CLI, as Jenkins runs it. Every case must end with one line per problem and exit 1:
// no stack trace, no "internal error", and no hang (the timeout turns a hang into a failure).
const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');

async function validate(root: string): Promise<{ code: number; stderr: string; ms: number }> {
  const started = Date.now();
  try {
    await run('node', [path.join(repo, 'bin/bake.js'), 'validate', '--dir', root], {
      env: { ...process.env, CI: 'true', NO_COLOR: '1' },
      timeout: 60_000,
    });
    return { code: 0, stderr: '', ms: Date.now() - started };
  } catch (error) {
    const e = error as { code: number | null; stderr: string; killed?: boolean };
    if (e.killed) throw new Error('bake validate hung and was killed');
    return { code: e.code ?? -1, stderr: e.stderr, ms: Date.now() - started };
  }
}

const RECIPE = 'name: web\nbase: { ami: ami-0123456789abcdef0 }\nroles: [common]\n';
const ROLE = { 'roles/common/tasks/main.yml': '- ansible.builtin.debug: { msg: hi }\n' };

const roots: string[] = [];
async function bakery(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'bake-hostile-'));
  roots.push(root);
  for (const [file, content] of Object.entries({ ...ROLE, ...files })) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
  return root;
}
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

/** The stderr lines with the root cut off; each must be one `path:line:col: message`. */
function lines(stderr: string, root: string): string[] {
  const out = stderr.trimEnd().split('\n');
  for (const line of out) {
    expect(line).toMatch(/^\/\S+:\d+:\d+: \S.*$/);
    expect(line).not.toMatch(/internal error|    at /);
  }
  return out.map((line) => line.split(`${root}/`).join(''));
}

describe('inputs that used to crash or hang bake validate', () => {
  it('refuses a YAML alias bomb at the alias, not with an internal error', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [i, letter] of [...'bcdefghi'].entries())
      bomb.push(
        `${letter}: &${letter} [${Array(9)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(', ')}]`,
      );
    const root = await bakery({ 'recipes/web.yaml': `${RECIPE}${bomb.join('\n')}\n` });
    const result = await validate(root);
    expect(result.code).toBe(1);
    expect(lines(result.stderr, root)).toEqual([
      expect.stringMatching(/^recipes\/web\.yaml:\d+:\d+: too many YAML alias expansions/),
    ]);
  });

  it('refuses a recipe that is a FIFO (reading it would block forever), a directory or a dangling link', async () => {
    const root = await bakery({ 'recipes/web.yaml': RECIPE });
    execFileSync('mkfifo', [path.join(root, 'recipes/fifo.yaml')]);
    await mkdir(path.join(root, 'recipes/folder.yaml'));
    await symlink('gone.yaml', path.join(root, 'recipes/dangling.yaml'));
    const result = await validate(root);
    expect(result.code).toBe(1);
    expect(lines(result.stderr, root)).toEqual([
      'recipes/dangling.yaml:1:1: is a symbolic link to nothing (dangling)',
      'recipes/fifo.yaml:1:1: is not a regular file (a FIFO, socket or device); bake reads only plain files',
      'recipes/folder.yaml:1:1: is a directory, not a file',
    ]);
  });

  it('refuses a bake.config.yaml that is a FIFO or a dangling link, instead of hanging or ignoring it', async () => {
    const fifo = await bakery({ 'recipes/web.yaml': RECIPE });
    execFileSync('mkfifo', [path.join(fifo, 'bake.config.yaml')]);
    expect(lines((await validate(fifo)).stderr, fifo)).toEqual([
      'bake.config.yaml:1:1: is not a regular file (a FIFO, socket or device); bake reads only plain files',
    ]);
    const dangling = await bakery({ 'recipes/web.yaml': RECIPE });
    await symlink('/nonexistent/bake.config.yaml', path.join(dangling, 'bake.config.yaml'));
    expect(lines((await validate(dangling)).stderr, dangling)).toEqual([
      'bake.config.yaml:1:1: is a symbolic link to nothing (dangling)',
    ]);
  });

  it('refuses a recipe over the size limit at once (a 2 MB recipe took 83 s and 2.6 GB)', async () => {
    const big = `${RECIPE}description: "${'x'.repeat(2 * 1024 * 1024)}"\n`;
    const root = await bakery({ 'recipes/web.yaml': big });
    const result = await validate(root);
    expect(result.code).toBe(1);
    expect(lines(result.stderr, root)).toEqual([
      `recipes/web.yaml:1:1: is ${Buffer.byteLength(big)} bytes; bake reads at most 262144`,
    ]);
  });

  it('names both files when web.yaml and web.yml define one recipe (the stale one used to win)', async () => {
    const root = await bakery({
      'recipes/web.yaml': RECIPE,
      'recipes/web.yml': RECIPE.replace('roles: [common]', 'roles: []'),
    });
    const result = await validate(root);
    expect(result.code).toBe(1);
    expect(lines(result.stderr, root)).toEqual([
      'recipes/web.yml:1:1: recipe web is defined by both web.yaml and web.yml; delete one',
    ]);
  });

  it('bounds deprecate_after_days to the 10 years EC2 accepts, in recipes and the config', async () => {
    const root = await bakery({
      'recipes/web.yaml': `${RECIPE}deprecate_after_days: 100000000\n`,
      'bake.config.yaml': 'deprecate_after_days: 3651\n',
    });
    const result = await validate(root);
    expect(result.code).toBe(1);
    expect(lines(result.stderr, root)).toEqual([
      'bake.config.yaml:1:23: deprecate_after_days: at most 3650 days (EC2 deprecates at most 10 years ahead)',
      'recipes/web.yaml:4:23: deprecate_after_days: at most 3650 days (EC2 deprecates at most 10 years ahead)',
    ]);
    const ok = await bakery({ 'recipes/web.yaml': `${RECIPE}deprecate_after_days: 3650\n` });
    expect((await validate(ok)).code).toBe(0);
  });
});

describe('what validates must build: values Packer or EC2 would refuse after a whole bake', () => {
  it('refuses control characters in tags, malformed KMS keys and share_with ARNs, and other formats EC2 refuses', async () => {
    const root = await bakery({
      'recipes/api.yaml':
        'name: api\nbase: { ami: ami-0123456789abcdef0 }\nroles: [common]\nregions: [us-east-1, eu-west-1]\n' +
        'tags: { team: "front\\u0007end", "k\\nx": v }\n' +
        'kms_key_ids: { eu-west-1: "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f" }\n',
      'recipes/web.yaml':
        'name: web\nbase: { ami: ami-0123456789abcdef0 }\nroles: [common]\n' +
        'kms_key_ids: { us-east-1: "alias/{{ .Nope }}" }\n' +
        'share_with: ["arn:aws:organizations::123456789012:organization/../../x", "12345678901"]\n' +
        'instance_type: "t3.{{ pwd }}"\nsubnet_id: "subnet-{{x}}"\nssh_username: "ad min"\nvolume_size: 100000\n',
    });
    const result = await validate(root);
    expect(result.code).toBe(1);
    expect(lines(result.stderr, root)).toEqual([
      'recipes/api.yaml:5:15: tag "team": values cannot hold control characters ("front\\u0007end")',
      'recipes/api.yaml:5:33: tag "k\\nx": keys cannot hold control characters',
      "recipes/api.yaml:6:27: kms_key_ids.eu-west-1 is a key in us-east-1: EC2 encrypts a region's copy only with a key of that region",
      'recipes/web.yaml:4:27: kms_key_ids.us-east-1: not a KMS key (key id, mrk- id, alias/name, or a key or alias ARN)',
      expect.stringMatching(
        /^recipes\/web\.yaml:5:14: share_with\.0: an account id \(12 digits\), an organization ARN/,
      ),
      expect.stringMatching(/^recipes\/web\.yaml:5:74: share_with\.1: an account id \(12 digits\)/),
      'recipes/web.yaml:6:16: instance_type: not an EC2 instance type (family.size, e.g. t3.small)',
      'recipes/web.yaml:7:12: subnet_id: not a subnet id (subnet-…)',
      'recipes/web.yaml:8:15: ssh_username: not a login name (letters, digits, _ . -; at most 32)',
      'recipes/web.yaml:9:14: volume_size: at most 16384 GiB (EBS gp3)',
    ]);
  });

  it('accepts what does build: key ids, multi-region keys, aliases and ARNs of the right region, organizations and OUs', async () => {
    const root = await bakery({
      'recipes/web.yaml':
        'name: web\nbase: { ami: ami-0123456789abcdef0 }\nroles: [common]\nregions: [us-east-1, eu-west-1, eu-central-1]\n' +
        'tags: { team: "front end ✓ {{ not evaluated }}" }\ndescription: "{{ pwd }} stays literal"\n' +
        'kms_key_ids: { us-east-1: alias/images/web, eu-west-1: "arn:aws:kms:eu-west-1:123456789012:alias/images", eu-central-1: mrk-0123456789abcdef0123456789abcdef }\n' +
        'share_with: ["123456789012", "arn:aws:organizations::123456789012:organization/o-abcdef1234", "arn:aws:organizations::123456789012:ou/o-abcdef1234/ou-ab12-abcdefgh"]\n',
    });
    expect(await validate(root)).toMatchObject({ code: 0 });
  });
});

describe('pin targets and templates stay inside the bakery', () => {
  it('refuses pin files outside the bakery: ../ escapes, absolute paths and symlinks leading out', async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'bake-outside-'));
    roots.push(outside);
    const root = await bakery({
      'recipes/web.yaml':
        `${RECIPE}pin:\n` +
        '  - { file: ../../../../../../../tmp/x.auto.tfvars, variable: a }\n' +
        `  - { file: ${outside}/abs.auto.tfvars, variable: b }\n` +
        '  - { file: ../infra/linked.auto.tfvars, variable: c }\n' +
        '  - { file: ../infra-link/through-dir.auto.tfvars, variable: d }\n' +
        '  - { file: ../infra/ok.auto.tfvars, variable: e }\n',
      'infra/ok.auto.tfvars': '',
    });
    await writeFile(path.join(outside, 'victim.tfvars'), 'a = 1\n');
    await symlink(path.join(outside, 'victim.tfvars'), path.join(root, 'infra/linked.auto.tfvars'));
    await symlink(outside, path.join(root, 'infra-link'));
    const result = await validate(root);
    expect(result.code).toBe(1);
    const out = lines(result.stderr, root);
    expect(out).toHaveLength(4);
    expect(out[0]).toMatch(
      /^recipes\/web\.yaml:5:5: pin file \.\.\/\.\.\/.*x\.auto\.tfvars is \/tmp\/x\.auto\.tfvars, outside .*; bake pins only inside the bakery or a folder listed in pin_roots/,
    );
    expect(out[1]).toMatch(/^recipes\/web\.yaml:6:5: pin file .*abs\.auto\.tfvars is .*, outside /);
    expect(out[2]).toMatch(
      /^recipes\/web\.yaml:7:5: pin file \.\.\/infra\/linked\.auto\.tfvars leads through a symbolic link to .*victim\.tfvars, outside /,
    );
    expect(out[3]).toMatch(
      /^recipes\/web\.yaml:8:5: pin file \.\.\/infra-link\/through-dir\.auto\.tfvars leads through a symbolic link to /,
    );
  });

  it('allows a folder beside the bakery that bake.config.yaml lists in pin_roots', async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'bake-monorepo-'));
    roots.push(parent);
    const root = path.join(parent, 'bakery');
    await mkdir(path.join(root, 'recipes'), { recursive: true });
    await mkdir(path.join(root, 'roles/common/tasks'), { recursive: true });
    await mkdir(path.join(parent, 'infra'));
    await writeFile(path.join(root, 'roles/common/tasks/main.yml'), '- ansible.builtin.debug: { msg: hi }\n');
    await writeFile(
      path.join(root, 'recipes/web.yaml'),
      `${RECIPE}pin: [{ file: ../../infra/web.auto.tfvars, variable: web_ami }]\n`,
    );
    expect((await validate(root)).code).toBe(1);
    await writeFile(path.join(root, 'bake.config.yaml'), 'pin_roots: [../infra]\n');
    expect(await validate(root)).toMatchObject({ code: 0 });
  });

  it('refuses a cloud-init template that is a symlink leading out of the bakery', async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'bake-outside-'));
    roots.push(outside);
    await writeFile(path.join(outside, 'secret.yaml.hbs'), '#cloud-config\n# agent secret\n');
    const root = await bakery({ 'recipes/web.yaml': `${RECIPE}cloud_init: [{ template: web.yaml.hbs }]\n` });
    await mkdir(path.join(root, 'cloud-init'));
    await symlink(path.join(outside, 'secret.yaml.hbs'), path.join(root, 'cloud-init/web.yaml.hbs'));
    const result = await validate(root);
    expect(result.code).toBe(1);
    expect(lines(result.stderr, root)).toEqual([
      expect.stringMatching(
        /^recipes\/web\.yaml:4:14: cloud-init template web\.yaml\.hbs leads through a symbolic link to .*secret\.yaml\.hbs, outside .*; templates are read only from inside the bakery$/,
      ),
    ]);
  });
});
