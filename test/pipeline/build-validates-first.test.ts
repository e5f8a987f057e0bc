/**
 * `bake build` refuses what `bake validate` refuses, before the first Packer starts: one kind of
 * problem per case, each in the child recipe of a parent that is fine, so a build that checked
 * late would bake the parent (and for templates rendered at their step, the child itself) first.
 * The built CLI, a stand-in `packer` first on PATH that journals every start, EC2 over HTTP.
 */
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { readPackerJournal } from './packer-journal.js';

const bake = path.resolve('bin/bake.js');
const fixture = path.resolve('test/fixtures/pipeline/cli-bakery');

let cloud: LocalCloud;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-build-validates-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  await mkdir(path.join(work, 'bin'));
  await symlink(path.resolve('test/fixtures/pipeline/fake-packer.mjs'), path.join(work, 'bin', 'packer'));
});

afterAll(async () => {
  await cloud?.close();
  await rm(work, { recursive: true, force: true });
});

/** The fixture (base, and web built FROM it), with web's recipe changed by `edit` and `files` added. */
async function bakeryWith(name: string, edit: (web: string) => string, files: Record<string, string> = {}) {
  const dir = path.join(work, name);
  await cp(fixture, dir, { recursive: true });
  const web = path.join(dir, 'recipes', 'web.yaml');
  await writeFile(web, edit(await readFile(web, 'utf8')));
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  await writeFile(path.join(dir, 'fake-packer.json'), '{}');
  return dir;
}

async function validateAndBuild(dir: string) {
  const env = {
    ...cloud.env,
    PATH: `${path.join(work, 'bin')}:${process.env.PATH}`,
    CI: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    FAKE_PACKER_SCRIPT: path.join(dir, 'fake-packer.json'),
    FAKE_PACKER_JOURNAL: path.join(dir, 'journal.ndjson'),
  };
  const validate = await execa('node', [bake, 'validate', '--dir', dir], { env, reject: false });
  const build = await execa('node', [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--json'], {
    env,
    reject: false,
  });
  return { validate, build, packerRuns: readPackerJournal(env.FAKE_PACKER_JOURNAL) };
}

/** The `path:line:col: message` lines a command printed, with the bakery's folder taken off. */
const problemLines = (stderr: string, dir: string) =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith(`${dir}/`))
    .map((line) => line.slice(dir.length + 1));

async function imageCount(): Promise<number> {
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: cloud.credentials });
  const { Images = [] } = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
  ec2.destroy();
  return Images.length;
}

/** web.yaml with its `launch_test: false` line replaced by `yaml`. */
const launchTestLine = (yaml: string) => (web: string) => web.replace(/^launch_test: false\n/m, yaml);

const cases: Array<{ kind: string; web: (text: string) => string; files?: Record<string, string>; problem: RegExp }> = [
  {
    kind: 'launch-test user-data that renders invalid YAML',
    web: launchTestLine(
      'launch_test:\n  user_data:\n    - template: web-user-data.yaml.hbs\n      vars: { queue: "a: [b" }\n',
    ),
    files: { 'cloud-init/web-user-data.yaml.hbs': '#cloud-config\nbootcmd:\n  - echo {{{queue}}}\n' },
    problem: /^recipes\/web\.yaml:\d+:\d+: .*web-user-data\.yaml\.hbs.*YAML/,
  },
  {
    kind: 'a cloud_init template that does not render (rendered with the Packer template)',
    web: launchTestLine('launch_test: false\ncloud_init:\n  - template: web.yaml.hbs\n'),
    files: { 'cloud-init/web.yaml.hbs': '#cloud-config\nhostname: {{hostname}}\n' },
    problem: /^recipes\/web\.yaml:\d+:\d+: cloud-init template web\.yaml\.hbs: "hostname" not defined/,
  },
  {
    kind: 'a boot role that does not exist',
    web: launchTestLine('launch_test: false\nboot:\n  roles: [app_config]\n'),
    problem: /^recipes\/web\.yaml:\d+:\d+: unknown role app_config/,
  },
  {
    kind: "a secret named like one of bake's own variables",
    web: launchTestLine('launch_test: false\nsecrets:\n  bake_recipe: { env: REPO_TOKEN }\n'),
    problem: /^recipes\/web\.yaml:\d+:\d+: secret bake_recipe: the name is bake's own variable/,
  },
  {
    kind: 'a pin target outside the bakery',
    web: (text) => text.replace('../infra/amis.auto.tfvars', '/tmp/elsewhere.auto.tfvars'),
    problem: /^recipes\/web\.yaml:\d+:\d+: pin file \/tmp\/elsewhere\.auto\.tfvars .*pin_roots/,
  },
];

describe('bake build checks what bake validate checks, before any Packer', () => {
  it.each(cases)(
    'refuses $kind with validate’s own lines, and starts no Packer',
    async ({ kind, web, files, problem }) => {
      const dir = await bakeryWith(kind.replace(/\W+/g, '-'), web, files);
      const images = await imageCount();
      const { validate, build, packerRuns } = await validateAndBuild(dir);

      expect(validate.exitCode, validate.stderr).toBe(1);
      const refused = problemLines(validate.stderr, dir);
      expect(refused).toEqual([expect.stringMatching(problem)]);
      expect(build.exitCode, build.stderr).toBe(1);
      expect(build.stdout).toBe('');
      expect(problemLines(build.stderr, dir)).toEqual(refused);
      expect(build.stderr).not.toContain('internal error');
      expect(packerRuns).toEqual([]);
      expect(await imageCount()).toBe(images);
    },
  );
});
