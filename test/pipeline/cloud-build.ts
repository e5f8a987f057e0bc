/**
 * What the build tests against the local cloud share: the fake `packer` (a real process making
 * real images there), bake's real tagger, distribution and image removal over HTTP, and a launch
 * test stand-in whose verdict each test times; every step says what it did in `events`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { discardImage } from '../../src/aws/discard-image.js';
import { createImageDistribution } from '../../src/aws/image-distribution.js';
import type { AwsSettings } from '../../src/aws/settings.js';
import { tagImage } from '../../src/aws/tag-image.js';
import type { LaunchTestResult } from '../../src/launch-test/launch-test.js';
import { distributeImage } from '../../src/lifecycle/distribute.js';
import { readManifest } from '../../src/packer/manifest.js';
import { renderRecipe } from '../../src/packer/render.js';
import { runPackerBuild } from '../../src/packer/runner.js';
import { writePackerVariables } from '../../src/packer/variables.js';
import { appendBuildLog } from '../../src/pipeline/build-log.js';
import type { BuildDeps, BuildPlan, PlannedRecipe } from '../../src/pipeline/build.js';
import type { Recipe } from '../../src/recipes/model.js';
import { bakeryOf } from './bakery.js';

const fakePacker = path.resolve('test/fixtures/pipeline/fake-packer.mjs');

export interface CloudBuild {
  root: string;
  /** The local cloud's endpoint, and its time scale when it has a latency profile. */
  aws: AwsSettings & { endpoint: string };
  ec2(region: string): EC2Client;
  /** What happened, in order: `tag R pending`, `copy R`, `publish R`, `launch test R starts|passed|…`, `pin R,…`. */
  events: string[];
  launchTest(recipe: string, imageId: string, signal: AbortSignal): Promise<LaunchTestResult>;
}

export function cloudBuildDeps({ root, aws, ec2, events, launchTest }: CloudBuild): BuildDeps {
  return {
    render: (r, outDir) =>
      renderRecipe(bakeryOf(root, []), r, outDir, { shape: 'legacy', target: { ec2Endpoint: aws.endpoint } }),
    writeVariables: writePackerVariables,
    runPacker: (request) => runPackerBuild({ ...request, bin: fakePacker }),
    readManifest: (file) => readManifest(file),
    appendLog: appendBuildLog,
    tagImage: async (region, ami, tags) => {
      await tagImage(aws, region, ami, tags);
      events.push(`tag ${tags['bake:recipe'] ?? ami} ${tags['bake:launch-test'] ?? '-'}`);
    },
    // Starts on the finished image; what publishes it waits for the launch tests up its chain.
    distribute: async (request) => {
      events.push(`copy ${request.recipe.name}`);
      void request.publishable?.then(
        () => events.push(`publish ${request.recipe.name}`),
        () => {},
      );
      return distributeImage(createImageDistribution(aws, { maxWaitSeconds: 60 }), request);
    },
    discardImage: (region, imageId) => discardImage(ec2(region), region, imageId, { timeScale: aws.timeScale }),
    launchTest: async (request) => {
      events.push(`launch test ${request.recipe.name} starts`);
      const result = await launchTest(request.recipe.name, request.imageId, request.signal);
      events.push(`launch test ${request.recipe.name} ${result.status}`);
      return result;
    },
    pin: async (requests) => void events.push(`pin ${requests.map((r) => r.recipe.name).join(',')}`),
    gitCommit: async () => 'feedc0de',
    now: () => new Date(),
  };
}

/** A plan that builds every recipe, never built before: roots on `baseAmi`, the others on their parent. */
export function planToBuild(recipes: Recipe[], fingerprintOf: (name: string) => string, baseAmi: string): BuildPlan {
  return {
    recipes: recipes.map((r): PlannedRecipe => ({
      name: r.name,
      recipe: r,
      action: 'build',
      reasons: ['never built'],
      fingerprint: fingerprintOf(r.name),
      amis: {},
      baseAmi: r.base.kind === 'ami' ? baseAmi : undefined,
      parent: r.base.kind === 'recipe' ? r.base.recipe : undefined,
    })),
  };
}

/** A fresh folder with the fake Packer's script and journal, and fingerprints of this test's own (the tests share one cloud). */
export async function fakePackerRun(prefix: string, script: Record<string, unknown>) {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  const run = randomBytes(3).toString('hex');
  const fingerprintOf = (name: string) => `${name}${run}0123456789abcdef`;
  const scriptFile = path.join(root, 'fake-packer.json');
  const journal = path.join(root, 'journal.ndjson');
  await writeFile(scriptFile, JSON.stringify(script));
  return { root, fingerprintOf, scriptFile, journal };
}
