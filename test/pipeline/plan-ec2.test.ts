/**
 * The plan against real EC2 calls: the embedded local cloud (with an in-memory instance host)
 * serves DescribeImages; images are made the way bake build makes them (RunInstances,
 * CreateImage with bake's tags) and the plan must find them through the real image catalog.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveBaseImage } from '../../src/aws/base-image.js';
import { createImageCatalog } from '../../src/aws/image-catalog.js';
import { createBuildRecords } from '../../src/aws/build-records.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';
import type { AwsSettings } from '../../src/aws/settings.js';
import { gitContentIds } from '../../src/fingerprint/content-ids.js';
import { gitHistory } from '../../src/fingerprint/history.js';
import { DEBIAN_ACCOUNT, baseImageId } from '../../src/local-cloud/index.js';
import { planBakery, type Plan, type PlanDeps } from '../../src/pipeline/plan.js';
import type { Bakery } from '../../src/recipes/model.js';
import { startTestCloud, type TestCloud } from '../local-cloud/memory-host.js';
import { BakeryRepo } from './bakery-repo.js';
import { imageAsBuilt } from './image-as-built.js';

let t: TestCloud;
let ec2: EC2Client;
let aws: AwsSettings;
let repo: BakeryRepo;

beforeAll(async () => {
  t = await startTestCloud();
  ec2 = t.ec2('us-east-1');
  aws = { endpoint: t.cloud.endpoint, region: 'us-east-1' };
  // The SDK's default chain reads these; the local cloud checks every signature against its key.
  process.env.AWS_ACCESS_KEY_ID = t.cloud.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = t.cloud.credentials.secretAccessKey;
});
afterAll(() => t.close());
beforeEach(async () => {
  repo = await BakeryRepo.create();
});
afterEach(() => repo.close());

function deps(): PlanDeps {
  return {
    catalog: createImageCatalog(aws),
    records: createBuildRecords(aws, 'bake-tests'),
    resolveBase: (base, region) => resolveBaseImage(aws, base, region),
    contentIds: gitContentIds(repo.root),
    history: gitHistory(repo.root, ['roles', 'cloud-init']),
  };
}

function bakery(): Bakery {
  return repo.bakery({ base: { base: { kind: 'filter', name: 'debian-12-amd64-*', owners: [DEBIAN_ACCOUNT] } } });
}

const describeCalls = () => t.cloud.calls.get('DescribeImages') ?? 0;
const entry = (p: Plan, name: string) => p.recipes.find((r) => r.name === name)!;

describe('bake plan against EC2', () => {
  it('finds images by their tags, reuses them, and rebuilds only what a role change touches', async () => {
    const commit = await repo.git('rev-parse', 'HEAD');
    const before = describeCalls();
    const first = await planBakery(bakery(), bakery().recipes, deps());
    // One listing for the one region, one lookup for the filter base: not one call per recipe.
    expect(describeCalls() - before).toBe(2);
    expect(first.recipes.map((r) => [r.name, r.action, r.reasons])).toEqual([
      ['base', 'build', ['no previous image']],
      ['web', 'build', ['no previous image']],
    ]);
    expect(entry(first, 'base').baseAmi).toBe(baseImageId('us-east-1'));

    const baseAmi = await imageAsBuilt(ec2, entry(first, 'base'), entry(first, 'base').baseAmi, commit);
    const webAmi = await imageAsBuilt(ec2, entry(first, 'web'), baseAmi, commit);
    for (const [name, imageId] of [
      ['base', baseAmi],
      ['web', webAmi],
    ] as const)
      await recordAsBuilt(t.cloud, 'bake-tests', {
        recipe: name,
        fingerprint: entry(first, name).fingerprint,
        region: 'us-east-1',
        imageId,
      });
    const second = await planBakery(bakery(), bakery().recipes, deps());
    expect(second.recipes.map((r) => [r.name, r.action, r.amis])).toEqual([
      ['base', 'reuse', { 'us-east-1': baseAmi }],
      ['web', 'reuse', { 'us-east-1': webAmi }],
    ]);

    await repo.write('roles/nginx/templates/site.conf.j2', 'server { listen {{ nginx_port }} http2; }\n');
    await repo.commit('nginx: http2');
    const third = await planBakery(
      bakery(),
      bakery().recipes.filter((r) => r.name === 'web'),
      deps(),
    );
    expect(third.recipes.map((r) => [r.name, r.action, r.reasons, r.baseAmi])).toEqual([
      ['web', 'build', ['role nginx: templates/site.conf.j2 changed'], baseAmi],
    ]);
  });
});
