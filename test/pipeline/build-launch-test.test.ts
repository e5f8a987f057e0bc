/**
 * The build's launch-test step: after Packer and tagging, before distribution and pinning. The
 * launch test itself is exercised against the local cloud (test/launch-test/); here it is a
 * recorded stand-in, so these tests are about what the build does with each outcome.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { LaunchTestResult } from '../../src/launch-test/launch-test.js';
import { appendBuildLog } from '../../src/pipeline/build-log.js';
import { readManifest } from '../../src/packer/manifest.js';
import { renderRecipe } from '../../src/packer/render.js';
import { runPackerBuild } from '../../src/packer/runner.js';
import { writePackerVariables } from '../../src/packer/variables.js';
import { buildBakery, type BuildDeps, type PlannedRecipe } from '../../src/pipeline/build.js';
import { buildExitCode, summaryLines } from '../../src/pipeline/build-report.js';
import { junitXml } from '../../src/pipeline/junit.js';
import { DEFAULT_LAUNCH_TEST_TIMEOUT_MS, type Recipe } from '../../src/recipes/model.js';
import { bakeryOf, recipeOf } from './bakery.js';
import { launchTestResult } from './launch-test-result.js';

const fakePacker = path.resolve('test/fixtures/pipeline/fake-packer.mjs');
const at = { file: 'recipes/web.yaml', line: 3, col: 1 };

function outcome(status: LaunchTestResult['status'], imageId: string, failing?: string): LaunchTestResult {
  return launchTestResult(status, imageId, {
    checks: [
      {
        check: 'service running: nginx',
        kind: 'service',
        status: 'passed',
        output: '',
        duration_s: 0.4,
        location: 'recipes/web.yaml:20:5',
      },
      ...(failing
        ? [
            {
              check: failing,
              kind: 'port' as const,
              status: 'failed' as const,
              output: 'no socket listens on TCP port 80',
              duration_s: 0.3,
              location: 'recipes/web.yaml:21:5',
            },
          ]
        : []),
    ],
    ...(status === 'passed' ? {} : { error: `1 of 2 checks failed on the booted instance: ${failing}` }),
    duration_s: 12.5,
  });
}

async function setup(launch: (imageId: string) => LaunchTestResult) {
  const root = await mkdtemp(path.join(tmpdir(), 'bake-build-launch-'));
  const scriptFile = path.join(root, 'fake-packer.json');
  await mkdir(path.join(root, 'infra'));
  await writeFile(scriptFile, JSON.stringify({ base: { regions: ['us-east-1'] }, web: { regions: ['us-east-1'] } }));
  const events: string[] = [];
  const deps: BuildDeps = {
    render: (recipe, outDir) => renderRecipe(bakeryOf(root, []), recipe, outDir, { shape: 'legacy' }),
    writeVariables: writePackerVariables,
    runPacker: (request) => runPackerBuild({ ...request, bin: fakePacker }),
    readManifest: (file) => readManifest(file),
    appendLog: appendBuildLog,
    tagImage: async (region, ami, tags) =>
      void events.push(`tag ${ami} ${tags['bake:launch-test'] ?? '-'}${tags['bake:recipe'] ? ' (all tags)' : ''}`),
    // Copies start on the finished image (pending); what publishes it waits for its launch test.
    distribute: async (request) => {
      events.push(`copy ${request.amis['us-east-1']} with bake:launch-test=${request.tags?.['bake:launch-test']}`);
      const published = await request.publishable;
      events.push(`publish ${request.amis['us-east-1']} with bake:launch-test=${published?.['bake:launch-test']}`);
      return { amis: request.amis } as never;
    },
    launchTest: async (request) => {
      events.push(`launch test ${request.imageId}`);
      await request.log('launch test: a line of the test');
      return launch(request.imageId);
    },
    pin: async (requests) => void events.push(`pin ${requests.map((r) => r.recipe.name).join(',')}`),
    gitCommit: async () => 'feedc0de',
    now: () => new Date(),
  };
  const recipe = (name: string, extra: Partial<Recipe> = {}) =>
    recipeOf(root, name, name === 'base' ? { kind: 'ami', ami: 'ami-0debian12' } : { kind: 'recipe', recipe: 'base' }, {
      pin: [
        {
          file: `${root}/infra/${name}.auto.tfvars`,
          fileAsWritten: `../infra/${name}.auto.tfvars`,
          variable: `${name}_ami`,
          format: 'map',
          location: at,
        },
      ],
      launchTest: { enabled: true, userData: [], checks: [], timeoutMs: DEFAULT_LAUNCH_TEST_TIMEOUT_MS, location: at },
      ...extra,
    });
  const planned = (r: Recipe): PlannedRecipe => ({
    name: r.name,
    recipe: r,
    action: 'build',
    reasons: ['never built'],
    fingerprint: `fp-${r.name}`,
    amis: {},
    baseAmi: r.base.kind === 'ami' ? r.base.ami : undefined,
    parent: r.base.kind === 'recipe' ? r.base.recipe : undefined,
  });
  const options = {
    runId: 'run-1',
    packerEnv: { FAKE_PACKER_SCRIPT: scriptFile, FAKE_PACKER_JOURNAL: path.join(root, 'journal.ndjson') },
  };
  return { root, deps, events, recipe, planned, options };
}

describe('the launch-test step of a build', () => {
  it('tests the new image while it is copied, and publishes it once passed: pending, then passed on the image and on its copies', async () => {
    const { deps, events, recipe, planned, options, root } = await setup((ami) => outcome('passed', ami));
    const base = recipe('base');
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, options);

    const ami = report.recipes[0].amis['us-east-1'];
    expect(events).toEqual([
      `tag ${ami} pending (all tags)`,
      `copy ${ami} with bake:launch-test=pending`,
      `launch test ${ami}`,
      `tag ${ami} passed`,
      `publish ${ami} with bake:launch-test=passed`,
      'pin base',
    ]);
    expect(report.recipes[0]).toMatchObject({
      status: 'built',
      launch_test: { status: 'passed', checks: [{ check: 'service running: nginx', status: 'passed' }] },
    });
    expect(buildExitCode(report)).toBe(0);
    expect(summaryLines(report)[0]).toMatch(/^  built    base.*\(launch test passed: 1 check in 13s\)$/);
    const log = await readFile(report.recipes[0].log!, 'utf8');
    expect(log).toContain('# bake: launch test: a line of the test\n');
    expect(log).toContain(`# bake: tagged ${ami} bake:launch-test=passed\n`);
  });

  it('a failed launch test fails the recipe: tagged failed, never published or pinned, children skipped, exit 1, one JUnit case per check', async () => {
    const { deps, events, recipe, planned, options, root } = await setup((ami) =>
      outcome('failed', ami, 'port listening: 80'),
    );
    const base = recipe('base');
    const web = recipe('web');
    const report = await buildBakery(
      bakeryOf(root, [base, web]),
      { recipes: [planned(base), planned(web)] },
      deps,
      options,
    );

    const ami = /tag (ami-\w+) pending/.exec(events[0])![1];
    expect(events).toEqual([
      `tag ${ami} pending (all tags)`,
      `copy ${ami} with bake:launch-test=pending`,
      `launch test ${ami}`,
      `tag ${ami} failed`,
    ]);
    expect(report.recipes.map((r) => [r.name, r.status, r.error])).toEqual([
      ['base', 'failed', '1 of 2 checks failed on the booted instance: port listening: 80'],
      ['web', 'skipped', 'parent base failed its launch test'],
    ]);
    expect(report.recipes[0].amis).toEqual({});
    expect(report.pin).toEqual({ status: 'skipped', reason: 'a recipe failed' });
    expect(buildExitCode(report)).toBe(1);

    const suite = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      isArray: (name) => name === 'testcase',
    }).parse(junitXml(report, '2026-11-30T06:00:00Z')).testsuites.testsuite;
    const cases = suite.testcase.filter((c: { classname: string }) => c.classname === 'launch test.base');
    expect(cases.map((c: { name: string; failure?: unknown }) => [c.name, Boolean(c.failure)])).toEqual([
      ['cloud-init', false],
      ['service running: nginx', false],
      ['port listening: 80', true],
    ]);
    expect(cases[2].failure['#text']).toBe('recipes/web.yaml:21:5\nno socket listens on TCP port 80');
    expect(suite).toMatchObject({ tests: '5', failures: '2', skipped: '1' });
  });

  it('says so and tests nothing for a recipe with launch_test: false', async () => {
    const { deps, events, recipe, planned, options, root } = await setup((ami) => outcome('passed', ami));
    const base = recipe('base', {
      launchTest: { enabled: false, userData: [], checks: [], timeoutMs: DEFAULT_LAUNCH_TEST_TIMEOUT_MS, location: at },
    });
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, options);

    const ami = report.recipes[0].amis['us-east-1'];
    expect(events).toEqual([
      `tag ${ami} - (all tags)`,
      `copy ${ami} with bake:launch-test=undefined`,
      `publish ${ami} with bake:launch-test=undefined`,
      'pin base',
    ]);
    expect(report.recipes[0].launch_test).toEqual({ status: 'off', reason: 'launch_test: false' });
    expect(summaryLines(report)[0]).toMatch(/\(no launch test: launch_test: false\)$/);
    expect(await readFile(report.recipes[0].log!, 'utf8')).toContain(
      "# bake: no launch test (launch_test: false in base's recipe)\n",
    );
  });
  /** Build records as the build writes them (src/pipeline/record-build.ts), in the same event list. */
  const recordingInto = (events: string[]): NonNullable<BuildDeps['records']> => {
    const recorded = new Map<string, { imageId: string; runId: string; recordedAt: string; earlier?: string[] }>();
    return {
      read: async ([query]) => {
        const found: Record<string, { imageId: string; runId: string; recordedAt: string }> = {};
        for (const region of query.regions) {
          const record = recorded.get(`${query.recipe} ${query.fingerprint} ${region}`);
          if (record) found[region] = record;
        }
        return new Map([[query.recipe, found]]);
      },
      write: async (recipe, fingerprint, region, record) => {
        recorded.set(`${recipe} ${fingerprint} ${region}`, record);
        events.push(`record ${recipe} ${fingerprint} ${region} ${record.imageId} run ${record.runId}`);
      },
    };
  };

  it('records the image as bake’s own once its launch test passed, before it is published or pinned (tag poisoning)', async () => {
    const { deps, events, recipe, planned, options, root } = await setup((ami) => outcome('passed', ami));
    deps.records = recordingInto(events);
    const base = recipe('base');
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, options);
    const ami = report.recipes[0].amis['us-east-1'];
    expect(events).toEqual([
      `tag ${ami} pending (all tags)`,
      `copy ${ami} with bake:launch-test=pending`,
      `launch test ${ami}`,
      `tag ${ami} passed`,
      `record base fp-base us-east-1 ${ami} run run-1`,
      `publish ${ami} with bake:launch-test=passed`,
      'pin base',
    ]);
  });

  it('never records an image whose launch test failed', async () => {
    const { deps, events, recipe, planned, options, root } = await setup((ami) =>
      outcome('failed', ami, 'port listening: 80'),
    );
    deps.records = recordingInto(events);
    const base = recipe('base');
    const report = await buildBakery(bakeryOf(root, [base]), { recipes: [planned(base)] }, deps, options);
    expect(report.recipes[0].status).toBe('failed');
    expect(events.filter((event) => event.startsWith('record'))).toEqual([]);
  });
});
