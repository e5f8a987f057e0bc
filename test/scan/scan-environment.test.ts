/**
 * `bake scan --env ENV` chooses the images ENV's pin targets hold (real tfvars files, SSM and EC2
 * over HTTP against the local cloud), not each recipe's newest image: a target without
 * `environment:` belongs to the first environment, copies of one build are one scan tagged alike,
 * and an id that is not this recipe's image is reported, never booted. An unknown environment and
 * a bakery without environments are one line and exit 1.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createParameterStore } from '../../src/aws/ssm-parameters.js';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { environmentScanTargets } from '../../src/pipeline/scan.js';
import { productionScanDeps } from '../../src/pipeline/scan-deps.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import type { Bakery } from '../../src/recipes/model.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { taggedCopyOfBase } from '../local-cloud/tagged-copy.js';
import { parseJsonOutput } from '../schema/json-schemas.js';
import { cliEnv } from '../local-cloud/cli-env.js';

const bake = path.resolve('bin/bake.js');
const EAST = 'us-east-1';
const WEST = 'eu-west-1';
let cloud: LocalCloud;
let work: string;
let dir: string;
let bakery: Bakery;
let store: ReturnType<typeof createParameterStore>;
const clients: Record<string, EC2Client> = {};
const web = { old: {} as Record<string, string>, current: {} as Record<string, string> };

const settings = () => ({ endpoint: cloud.endpoint, credentials: cloud.credentials });
const env = () => cliEnv(cloud.credentials);
const scan = (bakeryDir: string, args: string[]) =>
  execa('node', [bake, 'scan', '--endpoint', cloud.endpoint, '--dir', bakeryDir, ...args], {
    env: env(),
    reject: false,
  });

/** One build of `recipe` in `region`, as a finished bake leaves it (copies share fingerprint and build time). */
const image = (region: string, recipe: string, fingerprint: string, builtAt: string) =>
  taggedCopyOfBase(
    clients[region]!,
    region,
    {
      'bake:recipe': recipe,
      'bake:fingerprint': fingerprint,
      'bake:bakery': 'shop',
      'bake:built-at': builtAt,
      'bake:launch-test': 'passed',
    },
    `${recipe}-${fingerprint}-${region}`,
  );

const tfvars = (environment: string, variable: string, amis: Record<string, string>) =>
  writeFile(
    path.join(dir, 'infra', environment, `${variable}.auto.tfvars`),
    `${variable} = {\n${Object.entries(amis)
      .map(([region, ami]) => `  "${region}" = "${ami}"\n`)
      .join('')}}\n`,
  );

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-scan-env-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  for (const region of [EAST, WEST])
    clients[region] = new EC2Client({ region, endpoint: cloud.endpoint, credentials: cloud.credentials });
  store = createParameterStore(settings());

  dir = path.join(work, 'bakery');
  await mkdir(path.join(dir, 'recipes'), { recursive: true });
  for (const environment of ['dev', 'prod']) await mkdir(path.join(dir, 'infra', environment), { recursive: true });
  await writeFile(
    path.join(dir, 'bake.config.yaml'),
    `bakery: shop\nregions: [${EAST}, ${WEST}]\nencrypted: false\nenvironments: [dev, prod]\n`,
  );
  // web: dev's target names no environment (so it is dev's); prod has a tfvars file and an SSM parameter.
  await writeFile(
    path.join(dir, 'recipes', 'web.yaml'),
    `name: web\nbase:\n  ami: ${baseImageId(EAST)}\npin:\n` +
      `  - file: ../infra/dev/web_ami.auto.tfvars\n    variable: web_ami\n` +
      `  - file: ../infra/prod/web_ami.auto.tfvars\n    variable: web_ami\n    environment: prod\n` +
      `  - ssm: /images/web/ami\n    environment: prod\n`,
  );
  // api: dev pins an image that is not bake's; prod's file holds nothing yet.
  await writeFile(
    path.join(dir, 'recipes', 'api.yaml'),
    `name: api\nbase:\n  ami: ${baseImageId(EAST)}\nregions: [${EAST}]\npin:\n` +
      `  - file: ../infra/dev/api_ami.auto.tfvars\n    variable: api_ami\n` +
      `  - file: ../infra/prod/api_ami.auto.tfvars\n    variable: api_ami\n    environment: prod\n`,
  );

  const lastMonth = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const today = new Date().toISOString();
  for (const region of [EAST, WEST]) {
    web.old[region] = await image(region, 'web', 'fp-old', lastMonth);
    web.current[region] = await image(region, 'web', 'fp-new', today);
  }
  await tfvars('dev', 'web_ami', web.current);
  await tfvars('prod', 'web_ami', web.old);
  for (const region of [EAST, WEST]) await store.writeImage(region, '/images/web/ami', web.old[region]!);
  await tfvars('dev', 'api_ami', { [EAST]: baseImageId(EAST) });
  await tfvars('prod', 'api_ami', {});
  bakery = await loadBakery(dir);
});

afterAll(async () => {
  for (const client of Object.values(clients)) client.destroy();
  store?.close();
  await cloud?.close();
});

async function targetsOf(environment: string) {
  const deps = productionScanDeps({ bakery, aws: settings(), runId: 'test', store, note: () => {} });
  const byName = (name: string) => bakery.recipes.find((r) => r.name === name)!;
  return environmentScanTargets([byName('web'), byName('api')], environment, deps.catalog, (recipe) =>
    deps.environmentPins(recipe, environment),
  );
}

describe('bake scan --env', () => {
  it("selects the images prod's tfvars and SSM targets pin, once per build, and names the targets", async () => {
    const { targets, skipped } = await targetsOf('prod');
    expect(targets.map((t) => [t.recipe.name, t.region, t.imageId, t.copies, t.environment])).toEqual([
      ['web', EAST, web.old[EAST], [{ region: WEST, imageId: web.old[WEST] }], 'prod'],
    ]);
    expect(targets[0]!.pinnedBy!.sort()).toEqual(
      [
        `infra/prod/web_ami.auto.tfvars:web_ami["${EAST}"]`,
        `infra/prod/web_ami.auto.tfvars:web_ami["${WEST}"]`,
        `ssm:${EAST}:/images/web/ami`,
        `ssm:${WEST}:/images/web/ami`,
      ].sort(),
    );
    expect(skipped).toEqual([{ recipe: 'api', reason: 'its pin targets in prod hold no image' }]);
  });

  it('takes a target without environment: as the first environment, and reports an id that is not the recipe’s image', async () => {
    const { targets, skipped } = await targetsOf('dev');
    expect(targets.map((t) => [t.recipe.name, t.imageId, t.copies])).toEqual([
      ['web', web.current[EAST], [{ region: WEST, imageId: web.current[WEST] }]],
    ]);
    expect(skipped).toEqual([
      {
        recipe: 'api',
        reason: `${baseImageId(EAST)} pinned in dev by infra/dev/api_ami.auto.tfvars:api_ami["${EAST}"] is not an available image of api in ${EAST}`,
      },
    ]);
  });

  it('says in its JSON which environment it scanned, and why a recipe had nothing to scan', async () => {
    const result = await scan(dir, ['api', '--env', 'prod', '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(parseJsonOutput('scan', result.stdout)).toMatchObject({
      environment: 'prod',
      images: [],
      skipped: [{ recipe: 'api', reason: 'its pin targets in prod hold no image' }],
    });
  });

  it('refuses an unknown environment in one line, exit 1', async () => {
    const result = await scan(dir, ['--env', 'qa']);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/unknown environment qa \(bake\.config\.yaml environments: dev, prod\)$/),
    ]);
  });

  it('refuses --env in a bakery without environments, one line, exit 1', async () => {
    const plain = path.join(work, 'plain');
    await mkdir(path.join(plain, 'recipes'), { recursive: true });
    await writeFile(path.join(plain, 'bake.config.yaml'), 'bakery: plain\nencrypted: false\n');
    await writeFile(path.join(plain, 'recipes', 'web.yaml'), `name: web\nbase:\n  ami: ${baseImageId(EAST)}\n`);
    const result = await scan(plain, ['--env', 'dev']);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/--env dev: bake\.config\.yaml declares no environments/),
    ]);
  });
});
