/**
 * The report's environments view and images' security scans, from real data: a bakery with
 * dev → staging → prod over HTTP against the local cloud, pinned, promoted with an approval,
 * scanned and revoked, then `bake plan --report` rendered by headless chromium. A revoke reason
 * and a scan summary with markup stay text.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLifecycleEc2 } from '../../src/aws/image-lifecycle.js';
import { createParameterStore } from '../../src/aws/ssm-parameters.js';
import { startLocalCloud, baseImageId, type LocalCloud } from '../../src/local-cloud/index.js';
import { pinIntoEnvironment, type EnvironmentDeps } from '../../src/pipeline/environment-pins.js';
import { promote } from '../../src/pipeline/promote.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { scanTags } from '../../src/scan/scan-tags.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { taggedCopyOfBase } from '../local-cloud/tagged-copy.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';
import { createBuildRecords } from '../../src/aws/build-records.js';
import { parseJsonOutput } from '../schema/json-schemas.js';
import { DEFAULT_DISTRIBUTION } from '../pipeline/image-as-built.js';
import { inChromium } from './chromium.js';

const bake = path.resolve('bin/bake.js');
const REGION = 'us-east-1';
const HOUR = 3_600_000;
const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> "q" & </table>';
let cloud: LocalCloud;
let work: string;
let ec2: EC2Client;
let store: ReturnType<typeof createParameterStore>;
let records: ReturnType<typeof createBuildRecords>;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-report-images-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  ec2 = new EC2Client({ region: REGION, endpoint: cloud.endpoint, credentials: cloud.credentials });
  store = createParameterStore({ endpoint: cloud.endpoint, credentials: cloud.credentials });
  records = createBuildRecords({ endpoint: cloud.endpoint, credentials: cloud.credentials }, 'shop');
});

afterAll(async () => {
  ec2?.destroy();
  store?.close();
  records?.close();
  await cloud?.close();
});

const run = (dir: string, command: string, args: string[]) =>
  execa('node', [bake, command, '--endpoint', cloud.endpoint, '--dir', dir, ...args], {
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: cloud.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: cloud.credentials.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      CI: 'true',
    },
    reject: false,
  });

const deps = (now: Date): EnvironmentDeps => ({
  ec2: createLifecycleEc2({ endpoint: cloud.endpoint, credentials: cloud.credentials }),
  store,
  records,
  now: () => now,
});

async function fingerprintOf(dir: string): Promise<string> {
  const plan = await run(dir, 'plan', ['--json']);
  expect(plan.exitCode, plan.stderr).toBe(0);
  return (parseJsonOutput('plan', plan.stdout) as { recipes: Array<{ fingerprint: string }> }).recipes[0]!.fingerprint;
}

/** An image of web as its build leaves it: tagged, launch-tested, recorded. */
const image = async (bakery: string, fingerprint: string, builtAt: Date) => {
  const imageId = await taggedCopyOfBase(
    ec2,
    REGION,
    {
      'bake:recipe': 'web',
      'bake:fingerprint': fingerprint,
      'bake:bakery': bakery,
      'bake:built-at': builtAt.toISOString(),
      'bake:launch-test': 'passed',
      'bake:distribution': DEFAULT_DISTRIBUTION,
    },
    `web-${bakery}-${builtAt.getTime()}`,
  );
  await recordAsBuilt(cloud, bakery, { recipe: 'web', fingerprint, region: REGION, imageId });
  return imageId;
};

async function tag(ami: string, tags: Record<string, string>): Promise<void> {
  await ec2.send(
    new CreateTagsCommand({ Resources: [ami], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
  );
}

/** A bakery of one recipe `web`; with environments, one tfvars target per environment. */
async function bakeryDir(name: string, environments: string[]): Promise<string> {
  const dir = path.join(work, name);
  await mkdir(path.join(dir, 'recipes'), { recursive: true });
  const targets = (environments.length ? environments : ['']).map((environment, i) => {
    const file = path.join('infra', environment, 'web.auto.tfvars');
    return {
      environment,
      file,
      yaml: `  - file: ../${file}\n    variable: web_ami\n${i ? `    environment: ${environment}\n` : ''}`,
    };
  });
  for (const t of targets) {
    await mkdir(path.join(dir, path.dirname(t.file)), { recursive: true });
    await writeFile(path.join(dir, t.file), 'web_ami = {}\n');
  }
  await writeFile(
    path.join(dir, 'bake.config.yaml'),
    `bakery: ${name}\nregions: [us-east-1]\nencrypted: false\n` +
      (environments.length
        ? `environments: [${environments.join(', ')}]\npromotion:\n  prod: { soak: 1h, approval: true }\n`
        : ''),
  );
  await writeFile(
    path.join(dir, 'recipes', 'web.yaml'),
    `name: web\nbase:\n  ami: ${baseImageId(REGION)}\npin:\n${targets.map((t) => t.yaml).join('')}`,
  );
  return dir;
}

const rowOf = (dom: string, attribute: string, value: string) =>
  new RegExp(`<tr ${attribute}="${value}"[^>]*>([\\s\\S]*?)</tr>`).exec(dom)?.[1] ?? '';
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

describe('the HTML report: environments and security scans', () => {
  it('shows per environment the pinned image, since when, the approval and the revocation; each image its last scan', async () => {
    const dir = await bakeryDir('shop', ['dev', 'staging', 'prod']);
    const bakery = await loadBakery(dir);
    const t0 = new Date(Date.now() - 30 * 24 * HOUR);
    const v1 = await image('shop', 'fp-last-month', t0);
    await pinIntoEnvironment(bakery, [{ recipe: bakery.recipes[0]!, amis: { [REGION]: v1 } }], 'dev', deps(t0), false);
    await promote(bakery, bakery.recipes, { to: 'staging', check: false }, deps(new Date(t0.getTime() + 2 * HOUR)));
    await promote(
      bakery,
      bakery.recipes,
      { to: 'prod', check: false, approvedBy: 'alice' },
      deps(new Date(t0.getTime() + 4 * HOUR)),
    );
    const now = new Date();
    const v2 = await image('shop', await fingerprintOf(dir), now);
    await pinIntoEnvironment(bakery, [{ recipe: bakery.recipes[0]!, amis: { [REGION]: v2 } }], 'dev', deps(now), false);
    // Today's image was scanned yesterday: one fix pending; the summary carries markup too.
    const yesterday = new Date(now.getTime() - 24 * HOUR).toISOString();
    await tag(
      v2,
      scanTags(yesterday, [{ package: 'openssl<b>', installed: '3.0.20-1', fixed: '3.0.22-1' }], undefined),
    );
    // Last month's image is revoked with nothing earlier: staging and prod still pin it.
    const revoked = await run(dir, 'revoke', [v1, '--reason', HOSTILE, '--by', 'carol']);
    expect(revoked.exitCode, revoked.stderr).toBe(1);

    const file = path.join(work, 'reports', 'plan.html');
    const plan = await run(dir, 'plan', ['--report', file]);
    expect(plan.exitCode, plan.stderr).toBe(0);
    const { dom } = await inChromium(file);

    expect(dom).toContain('<h2>Environments</h2>');
    const dev = text(rowOf(dom, 'data-recipe="web" data-environment', 'dev'));
    expect(dev).toBe(`web us-east-1 dev ${v2} current ${now.toISOString().slice(0, 16).replace('T', ' ')}`);
    const staging = text(rowOf(dom, 'data-recipe="web" data-environment', 'staging'));
    expect(staging).toContain(`staging ${v1} revoked`);
    expect(staging).toContain(new Date(t0.getTime() + 2 * HOUR).toISOString().slice(0, 16).replace('T', ' '));
    const prod = text(rowOf(dom, 'data-recipe="web" data-environment', 'prod'));
    expect(prod).toContain(`prod ${v1} revoked`);
    expect(prod).toContain('(approved by alice)');
    expect(prod).toContain(
      'by carol: &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; "q" &amp; &lt;/table&gt;',
    );

    const scanned = text(rowOf(dom, 'data-image', v2));
    expect(scanned).toContain(`1 pending (${yesterday.slice(0, 10)})`);
    expect(scanned).toContain(`pending since ${yesterday.slice(0, 16).replace('T', ' ')}`);
    expect(scanned).toContain('openssl&lt;b&gt; 3.0.20-1 → 3.0.22-1');
    const old = text(rowOf(dom, 'data-image', v1));
    expect(old).toContain('not scanned');
    expect(old).toContain('revoked');

    // The hostile reason and summary are text: no element came of them, the tables are whole.
    expect(dom).not.toMatch(/<script|<img|<b>/i);
    expect(dom.match(/<table class="environments">/g)).toHaveLength(1);
    expect([...dom.matchAll(/<tr data-recipe="web" data-environment="(\w+)">/g)].map((m) => m[1])).toEqual([
      'dev',
      'staging',
      'prod',
    ]);
  });

  it('a bakery without environments keeps its report, plus each image and its scan', async () => {
    const dir = await bakeryDir('plain', []);
    const v1 = await image('plain', await fingerprintOf(dir), new Date());
    const file = path.join(work, 'reports', 'plain.html');
    const plan = await run(dir, 'plan', ['--report', file]);
    expect(plan.exitCode, plan.stderr).toBe(0);
    const { dom } = await inChromium(file);
    expect(dom).not.toContain('Environments');
    expect(dom).toContain('<h2>Recipes</h2>');
    expect(text(rowOf(dom, 'data-image', v1))).toBe(`web us-east-1 ${v1} current not scanned`);
  });
});
