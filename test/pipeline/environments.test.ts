/**
 * Environments over HTTP against the local cloud, with real tfvars files: a bakery with
 * dev → staging → prod, a base recipe and an app built FROM it. bake pin writes dev only;
 * promotion waits for soak (the clock injected, never slept) and approval and refuses a revoked
 * image; rollback restores the earlier file byte for byte; revoking the base rolls every
 * environment of base and app back and makes the next plan rebuild both.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLifecycleEc2 } from '../../src/aws/image-lifecycle.js';
import { createParameterStore } from '../../src/aws/ssm-parameters.js';
import { createBuildRecords } from '../../src/aws/build-records.js';
import { startLocalCloud, baseImageId, type LocalCloud } from '../../src/local-cloud/index.js';
import { pinIntoEnvironment, type EnvironmentDeps } from '../../src/pipeline/environment-pins.js';
import { promote } from '../../src/pipeline/promote.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import type { Bakery } from '../../src/recipes/model.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { taggedCopyOfBase } from '../local-cloud/tagged-copy.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';
import { parseJsonOutput } from '../schema/json-schemas.js';
import { DEFAULT_DISTRIBUTION } from './image-as-built.js';
import { cliEnv } from '../local-cloud/cli-env.js';

const bake = path.resolve('bin/bake.js');
const REGION = 'us-east-1';
const HOUR = 3_600_000;
let cloud: LocalCloud;
let work: string;
let dir: string;
let ec2: EC2Client;
let store: ReturnType<typeof createParameterStore>;
let records: ReturnType<typeof createBuildRecords>;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-environments-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  ec2 = new EC2Client({ region: REGION, endpoint: cloud.endpoint, credentials: cloud.credentials });
  store = createParameterStore(settings());
  records = createBuildRecords(settings(), 'shop');
});

afterAll(async () => {
  ec2?.destroy();
  store?.close();
  records?.close();
  await cloud?.close();
});

function settings() {
  return { endpoint: cloud.endpoint, credentials: cloud.credentials };
}

const env = () => cliEnv(cloud.credentials);
const run = (command: string, args: string[]) =>
  execa('node', [bake, command, '--endpoint', cloud.endpoint, '--dir', dir, ...args], { env: env(), reject: false });

const deps = (now: Date): EnvironmentDeps => ({
  ec2: createLifecycleEc2(settings()),
  store,
  records,
  now: () => now,
});

const file = (environment: string, recipe: string) => path.join(dir, 'infra', environment, `${recipe}.auto.tfvars`);
const read = (environment: string, recipe: string) => readFile(file(environment, recipe), 'utf8');
const pinOf = async (environment: string, recipe: string) =>
  /"?us-east-1"?\s*=\s*"(ami-[0-9a-f]+)"/.exec(await read(environment, recipe))?.[1];

async function tagsOf(ami: string): Promise<Record<string, string>> {
  const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }));
  return Object.fromEntries((Images[0]?.Tags ?? []).map((t) => [t.Key!, t.Value!]));
}

async function fingerprints(): Promise<Record<string, string>> {
  const plan = await run('plan', ['--json']);
  expect(plan.exitCode, plan.stderr).toBe(0);
  const { recipes } = parseJsonOutput('plan', plan.stdout) as { recipes: Array<{ name: string; fingerprint: string }> };
  return Object.fromEntries(recipes.map((r) => [r.name, r.fingerprint]));
}

/** An image of `recipe` as a finished bake leaves it: launch-tested, distributed, this bakery's, recorded. */
const image = async (recipe: string, fingerprint: string, builtAt: Date, parent?: string) => {
  const imageId = await taggedCopyOfBase(
    ec2,
    REGION,
    {
      'bake:recipe': recipe,
      'bake:fingerprint': fingerprint,
      'bake:bakery': 'shop',
      'bake:built-at': builtAt.toISOString(),
      'bake:launch-test': 'passed',
      'bake:distribution': DEFAULT_DISTRIBUTION,
      ...(parent && { 'bake:parent': parent }),
    },
    `${recipe}-${builtAt.getTime()}`,
  );
  await recordAsBuilt(cloud, 'shop', { recipe, fingerprint, region: REGION, imageId });
  return imageId;
};

const pinTargets = (recipe: string) =>
  ['dev', 'staging', 'prod']
    .map(
      (environment) =>
        `  - file: ../infra/${environment}/${recipe}.auto.tfvars\n    variable: ${recipe}_ami\n` +
        // dev says nothing: a target without environment belongs to the first.
        (environment === 'dev' ? '' : `    environment: ${environment}\n`),
    )
    .join('');

describe('environments: build → dev → staging → prod, rollback, revoke', () => {
  let bakery: Bakery;
  const v1: Record<string, string> = {};
  const v2: Record<string, string> = {};
  let prodBaseAtV1: string;
  const t0 = new Date(Date.now() - 30 * 24 * HOUR);

  beforeAll(async () => {
    dir = path.join(work, 'bakery');
    await mkdir(path.join(dir, 'recipes'), { recursive: true });
    for (const environment of ['dev', 'staging', 'prod']) {
      await mkdir(path.join(dir, 'infra', environment), { recursive: true });
      for (const recipe of ['base', 'app'])
        await writeFile(file(environment, recipe), `# ${environment} stack: ${recipe} image\n${recipe}_ami = {}\n`);
    }
    await writeFile(
      path.join(dir, 'bake.config.yaml'),
      'bakery: shop\nregions: [us-east-1]\nencrypted: false\nenvironments: [dev, staging, prod]\n' +
        'promotion:\n  staging: { soak: 24h }\n  prod: { soak: 72h, approval: true }\n',
    );
    await writeFile(
      path.join(dir, 'recipes', 'base.yaml'),
      `name: base\nbase:\n  ami: ${baseImageId(REGION)}\npin:\n${pinTargets('base')}`,
    );
    await writeFile(
      path.join(dir, 'recipes', 'app.yaml'),
      `name: app\nbase:\n  recipe: base\npin:\n${pinTargets('app')}`,
    );
    bakery = await loadBakery(dir);

    // Last month's images went dev → staging → prod through the gates.
    v1.base = await image('base', 'fp-last-month', t0);
    v1.app = await image('app', 'fp-last-month', t0, v1.base);
    const requests = bakery.recipes.map((recipe) => ({ recipe, amis: { [REGION]: v1[recipe.name] } }));
    await pinIntoEnvironment(bakery, requests, 'dev', deps(t0), false);
    await promote(bakery, bakery.recipes, { to: 'staging', check: false }, deps(new Date(t0.getTime() + 25 * HOUR)));
    const atProd = new Date(t0.getTime() + 100 * HOUR);
    const report = await promote(
      bakery,
      bakery.recipes,
      { to: 'prod', check: false, approvedBy: 'alice' },
      deps(atProd),
    );
    expect(report.recipes.map((r) => [r.recipe, r.status])).toEqual([
      ['app', 'promoted'],
      ['base', 'promoted'],
    ]);
    prodBaseAtV1 = await read('prod', 'base');

    // Today's images: the current fingerprints.
    const today = new Date();
    v2.base = await image('base', (await fingerprints()).base, today);
    v2.app = await image('app', (await fingerprints()).app, today, v2.base);
  });

  it('validate refuses an unknown environment and a target in two environments, one line each', async () => {
    const bad = path.join(work, 'bad');
    await mkdir(path.join(bad, 'recipes'), { recursive: true });
    await writeFile(path.join(bad, 'bake.config.yaml'), 'environments: [dev, prod]\n');
    await writeFile(
      path.join(bad, 'recipes', 'web.yaml'),
      `name: web\nbase:\n  ami: ${baseImageId(REGION)}\npin:\n  - file: a.tfvars\n    variable: web_ami\n    environment: qa\n` +
        `  - ssm: /images/web\n  - ssm: /images/web\n    environment: prod\n`,
    );
    const result = await execa('node', [bake, 'validate', '--dir', bad], { reject: false });
    expect(result.exitCode).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(
        /web\.yaml:5:5: .*pin target a\.tfvars \(web_ami\): unknown environment qa \(environments: dev, prod\)/,
      ),
      expect.stringMatching(
        /web\.yaml:9:5: .*SSM parameter \/images\/web belongs to two environments: dev .* and prod/,
      ),
    ]);
  });

  it('bake pin writes only the first environment and records the pin time on the images', async () => {
    const staging = await read('staging', 'base');
    const pin = await run('pin', []);
    expect(pin.exitCode, pin.stderr).toBe(0);
    expect(await pinOf('dev', 'base')).toBe(v2.base);
    expect(await pinOf('dev', 'app')).toBe(v2.app);
    expect(await read('staging', 'base')).toBe(staging);
    expect(await pinOf('prod', 'base')).toBe(v1.base);
    expect(Date.parse((await tagsOf(v2.base))['bake:pinned:dev'])).toBeGreaterThan(Date.now() - 60_000);
  });

  it('refuses to promote before the soak is over, one line per recipe, and writes nothing', async () => {
    const before = await read('staging', 'base');
    const refused = await run('promote', ['--to', 'staging', '--json']);
    expect(refused.exitCode).toBe(1);
    const document = parseJsonOutput('promote', refused.stdout) as { recipes: Array<{ name: string; status: string }> };
    expect(document.recipes.map((r) => [r.name, r.status])).toEqual([
      ['app', 'refused'],
      ['base', 'refused'],
    ]);
    expect(refused.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^app: not promoted to staging: ami-\w+ in us-east-1 has soaked \d+s of 1d in dev \(promotable from /,
      ),
      expect.stringMatching(/^base: not promoted to staging: ami-\w+ in us-east-1 has soaked \d+s of 1d in dev/),
    ]);
    expect(await read('staging', 'base')).toBe(before);
  });

  it('promotes once the soak is over (the clock moved, not slept); --check shows the diff and exits 2 first', async () => {
    const later = new Date(Date.now() + 25 * HOUR);
    const check = await promote(bakery, bakery.recipes, { to: 'staging', check: true }, deps(later));
    expect(check.recipes.map((r) => r.status)).toEqual(['would-promote', 'would-promote']);
    expect(check.recipes[1].files[0].diff).toContain(`-  us-east-1 = "${v1.base}"\n+  us-east-1 = "${v2.base}"`);
    expect(await pinOf('staging', 'base')).toBe(v1.base);

    const report = await promote(bakery, bakery.recipes, { to: 'staging', check: false }, deps(later));
    expect(report.recipes.map((r) => r.status)).toEqual(['promoted', 'promoted']);
    expect(await pinOf('staging', 'base')).toBe(v2.base);
    expect(await pinOf('staging', 'app')).toBe(v2.app);
    expect((await tagsOf(v2.base))['bake:promoted:staging']).toBe(later.toISOString());
  });

  it('refuses prod without an approval even after the soak, then promotes with one and records who', async () => {
    const later = new Date(Date.now() + 200 * HOUR);
    const refused = await promote(bakery, bakery.recipes, { to: 'prod', check: false }, deps(later));
    expect(refused.recipes.map((r) => r.refusal)).toEqual([
      'app: not promoted to prod: promoting into prod needs an approval (--approved-by NAME)',
      'base: not promoted to prod: promoting into prod needs an approval (--approved-by NAME)',
    ]);
    expect(await pinOf('prod', 'base')).toBe(v1.base);

    const cli = await run('promote', ['base', '--to', 'prod', '--approved-by', 'bob']);
    expect(cli.exitCode).toBe(1);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toContain('has soaked');

    const report = await promote(bakery, bakery.recipes, { to: 'prod', check: false, approvedBy: 'bob' }, deps(later));
    expect(report.recipes.map((r) => r.status)).toEqual(['promoted', 'promoted']);
    expect(await pinOf('prod', 'base')).toBe(v2.base);
    expect((await tagsOf(v2.base))['bake:promoted:prod']).toBe(`${later.toISOString()} approved by bob`);
  });

  it('rolls prod back to the image it pinned before, restoring the file byte for byte', async () => {
    const check = await run('rollback', ['base', '--env', 'prod', '--check', '--json']);
    expect(check.exitCode, check.stderr).toBe(2);
    expect(parseJsonOutput('rollback', check.stdout)).toMatchObject({
      replaced: { 'us-east-1': v2.base },
      amis: { 'us-east-1': v1.base },
    });
    expect(await pinOf('prod', 'base')).toBe(v2.base);

    const rolled = await run('rollback', ['base', '--env', 'prod']);
    expect(rolled.exitCode, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain(`base prod us-east-1: ${v2.base} → ${v1.base} (rolled back)`);
    expect(await read('prod', 'base')).toBe(prodBaseAtV1);

    const none = await run('rollback', ['base', '--env', 'prod']);
    expect(none.exitCode).toBe(1);
    expect(none.stderr.trim().split('\n')).toEqual([
      `base: no image pinned in prod before ${v1.base} in us-east-1 to roll back to (not revoked, deregistered or failed)`,
    ]);
  });

  it('revoking the base revokes the app built FROM it, rolls every environment of both back, and plan rebuilds both', async () => {
    const revoked = await run('revoke', ['base', '--reason', 'CVE-2026-0001 in openssl', '--by', 'carol', '--json']);
    expect(revoked.exitCode, revoked.stderr).toBe(0);
    const report = parseJsonOutput('revoke', revoked.stdout) as {
      revoked: Array<{ image_id: string; newly: boolean }>;
      moves: Array<{ recipe: string; environment: string; from: string; to: string }>;
    };
    expect(report.revoked.map((i) => i.image_id).sort()).toEqual([v2.base, v2.app].sort());
    expect(report.moves.map((m) => `${m.recipe} ${m.environment} ${m.from}→${m.to}`).sort()).toEqual(
      [
        `app dev ${v2.app}→${v1.app}`,
        `app staging ${v2.app}→${v1.app}`,
        `app prod ${v2.app}→${v1.app}`,
        `base dev ${v2.base}→${v1.base}`,
        `base staging ${v2.base}→${v1.base}`,
      ].sort(),
    );
    for (const environment of ['dev', 'staging', 'prod']) {
      expect(await pinOf(environment, 'base')).toBe(v1.base);
      expect(await pinOf(environment, 'app')).toBe(v1.app);
    }
    const tags = await tagsOf(v2.app);
    expect(tags).toMatchObject({ 'bake:revoked-by': 'carol', 'bake:revoked-reason': 'CVE-2026-0001 in openssl' });
    const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [v2.base] }));
    expect(Date.parse(Images[0].DeprecationTime!)).toBeLessThanOrEqual(Date.now());

    const plan = await run('plan', ['--json']);
    const { recipes } = parseJsonOutput('plan', plan.stdout) as {
      recipes: Array<{ name: string; action: string; reasons: string[] }>;
    };
    expect(recipes.map((r) => [r.name, r.action])).toEqual([
      ['base', 'build'],
      ['app', 'build'],
    ]);
    expect(recipes[0].reasons).toEqual([`image ${v2.base} was revoked: CVE-2026-0001 in openssl`]);
  });

  it('refuses to promote or roll back to a revoked image, one line', async () => {
    await pinIntoEnvironment(
      bakery,
      [{ recipe: bakery.recipes[1], amis: { [REGION]: v2.base } }],
      'dev',
      deps(new Date()),
      false,
    );
    const promoted = await run('promote', ['base', '--to', 'staging']);
    expect(promoted.exitCode).toBe(1);
    expect(promoted.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^base: not promoted to staging: ${v2.base} in us-east-1 was revoked at \\S+ \\(CVE-2026-0001 in openssl\\)$`,
        ),
      ),
    ]);
    const rollback = await run('rollback', ['base', '--env', 'prod', '--to', v2.base]);
    expect(rollback.exitCode).toBe(1);
    expect(rollback.stderr.trim().split('\n')).toHaveLength(1);
    expect(rollback.stderr).toContain('was revoked');
  });

  it('revoking an image with nothing earlier leaves the pins, says so and exits 1; images flags the pins', async () => {
    const revoked = await run('revoke', [v1.base, '--reason', 'bad base']);
    expect(revoked.exitCode).toBe(1);
    expect(revoked.stderr).toContain(`base prod us-east-1: still pins revoked ${v1.base}`);
    expect(await pinOf('prod', 'base')).toBe(v1.base);
    expect(await pinOf('prod', 'app')).toBe(v1.app);

    const images = await run('images', ['--detailed-exitcode']);
    expect(images.exitCode).toBe(2);
    expect(images.stdout).toContain('revoked');
  });
});
