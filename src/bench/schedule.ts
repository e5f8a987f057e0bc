/**
 * `npm run bench`, scheduling part: how long does `bake build` take on AWS for a bakery of about
 * 30 recipes, 4 levels deep, 4 regions, concurrency 8? The real build (src/pipeline/build.ts, its
 * DAG scheduler, bake and distribution steps) runs against stand-ins that take the public AWS
 * figures as their time, scaled down (1 simulated second = SCALE ms): instance pending → running
 * 30 s, SSH 20 s later, provisioning (a stand-in time per recipe), stop 40 s, CreateImage 3 min,
 * cross-region CopyImage 8 min. No EC2 API here: this measures the scheduling, not the API.
 *
 * Printed side by side: bake's wall time, the ideal (the longest chain of bakes, then its last
 * copy), the v0.1 scheduling (a child waited for its parent's copies, which held a slot), a serial
 * "rebuild everything" loop, and the Jenkins plans (waves, and each branch on its own parent).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appendBuildLog } from '../pipeline/build-log.js';
import { buildBakery, type BuildDeps, type PlannedRecipe } from '../pipeline/build.js';
import { runDag, type DagNode } from '../pipeline/scheduler.js';
import type { Bakery, Recipe } from '../recipes/model.js';

/** Real milliseconds per simulated second. */
const SCALE = Number(process.env.BAKE_BENCH_TIME_SCALE ?? 10);
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-2', 'us-west-2'];
const CONCURRENCY = 8;
/** Seconds: instance running + SSH + stop + CreateImage, around each recipe's provisioning. */
const BAKE_OVERHEAD_S = 30 + 20 + 40 + 180;
const COPY_S = 8 * 60;

interface SimRecipe {
  name: string;
  parent?: string;
  level: number;
  provisionS: number;
}

/** 30 recipes: 2 roots, then 4, 8 and 16 on levels 1–3; provisioning 2–8 min, deterministic. */
export function simulatedBakery(): SimRecipe[] {
  const recipes: SimRecipe[] = [];
  const perLevel = [2, 4, 8, 16];
  let n = 0;
  perLevel.forEach((count, level) => {
    const parents = recipes.filter((r) => r.level === level - 1);
    for (let i = 0; i < count; i++) {
      const provisionS = 120 + ((n * 97) % 361);
      recipes.push({ name: `r${String(n++).padStart(2, '0')}`, parent: parents.length ? parents[i % parents.length].name : undefined, level, provisionS });
    }
  });
  return recipes;
}

const bakeS = (r: SimRecipe) => BAKE_OVERHEAD_S + r.provisionS;
const sleepS = (seconds: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, seconds * SCALE);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(new Error('aborted'))), { once: true });
  });

function recipeModel(root: string, sim: SimRecipe): Recipe {
  const file = path.join(root, 'recipes', `${sim.name}.yaml`);
  return {
    name: sim.name, description: sim.name, file, regions: REGIONS, instanceType: 't3.small', sshUsername: 'admin',
    base: sim.parent ? { kind: 'recipe', recipe: sim.parent } : { kind: 'ami', ami: 'ami-0debian12' },
    roles: [], cloudInit: [], tags: {}, pin: [], ssmPins: [], encrypted: true, kmsKeyIds: {}, imdsv2: true, shareWith: [], verify: [], ansibleEnv: [],
    locations: {},
  };
}

/** Longest chain of bakes, plus the copies of its last image. */
function idealS(recipes: SimRecipe[]): number {
  const byName = new Map(recipes.map((r) => [r.name, r]));
  const chain = (r: SimRecipe): number => bakeS(r) + (r.parent ? chain(byName.get(r.parent)!) : 0);
  return Math.max(...recipes.map((r) => chain(r) + COPY_S));
}

/** Runs the real build over the stand-ins; simulated seconds. */
async function bakeWallS(recipes: SimRecipe[], concurrency: number): Promise<number> {
  const root = await mkdtemp(path.join(tmpdir(), 'bake-bench-schedule-'));
  try {
    const models = recipes.map((r) => recipeModel(root, r));
    const bakery: Bakery = { root, config: { regions: REGIONS, instanceType: 't3.small', sshUsername: 'admin', tags: {}, encrypted: true, imdsv2: true, pinRoots: [], bakery: 'bench', bakerySource: 'config' }, recipes: models, roles: new Map() };
    const byName = new Map(recipes.map((r) => [r.name, r]));
    const manifests = new Map<string, Record<string, string>>();
    const deps: BuildDeps = {
      render: async (recipe, outDir) => ({ dir: path.join(outDir, recipe.name), template: `${recipe.name}.pkr.hcl`, manifest: recipe.name }),
      writeVariables: async () => {},
      runPacker: async (request) => {
        const name = path.basename(request.templateFile, '.pkr.hcl');
        await sleepS(bakeS(byName.get(name)!), request.signal);
        manifests.set(name, { [REGIONS[0]]: `ami-${name}` });
      },
      readManifest: async (name) => manifests.get(name)!,
      appendLog: appendBuildLog,
      tagImage: async () => {},
      // The copies to the other regions run at once, as bake's distribution does.
      distribute: async (request) => {
        await sleepS(COPY_S, request.signal);
        return { amis: Object.fromEntries(REGIONS.map((region) => [region, `ami-${request.recipe.name}-${region}`])), regions: [] };
      },
      pin: async () => [],
      gitCommit: async () => '0'.repeat(40),
      now: () => new Date(),
    };
    const plan = {
      recipes: models.map((recipe): PlannedRecipe => ({
        name: recipe.name, recipe, action: 'build', reasons: ['bench'], fingerprint: recipe.name, amis: {},
        baseAmi: recipe.base.kind === 'ami' ? recipe.base.ami : undefined, parent: byName.get(recipe.name)!.parent,
      })),
    };
    const started = performance.now();
    const report = await buildBakery(bakery, plan, deps, { concurrency, pin: false });
    const failed = report.recipes.filter((r) => r.status !== 'built');
    if (failed.length) throw new Error(`bench build failed: ${failed.map((r) => `${r.name} ${r.status} ${r.error ?? ''}`).join('; ')}`);
    return (performance.now() - started) / SCALE;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The v0.1 scheduling: one node per recipe, bake then copies, holding its slot throughout. */
async function oneNodePerRecipeS(recipes: SimRecipe[], concurrency: number): Promise<number> {
  const nodes: DagNode<void>[] = recipes.map((r) => ({
    id: r.name,
    parents: r.parent ? [r.parent] : [],
    run: async () => sleepS(bakeS(r) + COPY_S),
  }));
  const started = performance.now();
  await runDag(nodes, { concurrency });
  return (performance.now() - started) / SCALE;
}

/** Jenkins with one agent per bake, waves: each wave waits for the slowest recipe (bake and copies) of the one before. */
function jenkinsWavesS(recipes: SimRecipe[]): number {
  const levels = [...new Set(recipes.map((r) => r.level))].sort();
  return levels.reduce((total, level) => total + Math.max(...recipes.filter((r) => r.level === level).map((r) => bakeS(r) + COPY_S)), 0);
}

/** Jenkins with one agent per bake, each branch starting on its own parent's bake (the Jenkinsfile now). */
function jenkinsPerParentS(recipes: SimRecipe[]): number {
  // Same build region for all: a child waits for its parent's bake only; the copies run alongside.
  return idealS(recipes);
}

const minutes = (seconds: number) => `${(seconds / 60).toFixed(1)} min`;

export async function scheduleBench(say: (line: string) => void): Promise<void> {
  const recipes = simulatedBakery();
  const ideal = idealS(recipes);
  const wall = await bakeWallS(recipes, CONCURRENCY);
  const unbounded = await bakeWallS(recipes, recipes.length);
  const before = await oneNodePerRecipeS(recipes, CONCURRENCY);
  const serial = recipes.reduce((total, r) => total + bakeS(r) + COPY_S, 0);
  say(`(e) simulated AWS build: ${recipes.length} recipes, 4 levels, ${REGIONS.length} regions, concurrency ${CONCURRENCY} (1 simulated s = ${SCALE} ms; public AWS timings, no EC2 API)`);
  say(`    bake build ${minutes(wall)}; ideal (longest chain of bakes + its copies) ${minutes(ideal)}; ratio ${(wall / ideal).toFixed(3)}`);
  say(`    with a slot per recipe (--concurrency ${recipes.length}): ${minutes(unbounded)}, ratio ${(unbounded / ideal).toFixed(3)}`);
  say(`    v0.1 scheduling (children wait for every copy, copies hold a slot) ${minutes(before)}; serial rebuild-everything loop ${minutes(serial)}`);
  say(`    Jenkins, one agent per bake: waves ${minutes(jenkinsWavesS(recipes))}, each branch on its own parent ${minutes(jenkinsPerParentS(recipes))}`);
}
