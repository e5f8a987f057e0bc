/**
 * `npm run bench`, scenario (e): how long does `bake build` take on AWS for a bakery of 30
 * recipes, 4 levels deep, 4 regions, at concurrency 8? bake's real plan and build (scheduler,
 * lock, render, tagging, distribution: copies, IMDSv2, their waiters) run over HTTP against the
 * local cloud with the `aws` latency profile (docs/local-cloud.md#latency), time scaled down,
 * with EC2's token buckets shrunk so that bursts really get RequestLimitExceeded. Packer is a
 * stand-in (src/bench/stand-in-packer.ts) that makes Packer's EC2 calls and waits; only the
 * provisioning itself is a stand-in time per recipe.
 *
 * Printed side by side: bake's wall time; the ideal (the longest chain of bakes by the public
 * figures, then its last copy); a serial "rebuild everything" loop and the Jenkins plans, from
 * the bakes measured in this run; EC2 calls and throttled calls.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { cachedClients } from '../aws/image-catalog.js';
import type { AwsSettings } from '../aws/settings.js';
import {
  AWS_LATENCY,
  startLocalCloud,
  type InstanceHost,
  type LatencyProfile,
  type LocalCloud,
} from '../local-cloud/index.js';
import { AWS_POLLING } from '../packer/template.js';
import { buildBakery } from '../pipeline/build.js';
import { silentProgress } from '../pipeline/progress.js';
import { productionBuildDeps } from '../pipeline/build-deps.js';
import { planBakery } from '../pipeline/plan.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import { loadBakery } from '../recipes/load-bakery.js';
import type { TokenBucket } from '../local-cloud/latency-profile.js';
import { standInPacker, type StandInBake } from './stand-in-packer.js';

/** Real seconds per simulated second (0.03: a simulated hour in 108 s; smaller makes this machine's own delays count 1/scale times). */
const TIME_SCALE = Number(process.env.BAKE_BENCH_TIME_SCALE ?? 0.03);
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-2', 'us-west-2'];
const CONCURRENCY = Number(process.env.BAKE_BENCH_CONCURRENCY ?? 8);
/** EC2's bucket sizes divided by this: the bench's 30 recipes must meet throttling, as a busy account does. */
const THROTTLE_SHRINK = Number(process.env.BAKE_BENCH_THROTTLE_SHRINK ?? 20);

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
      recipes.push({
        name: `r${String(n++).padStart(2, '0')}`,
        parent: parents.length ? parents[i % parents.length].name : undefined,
        level,
        provisionS,
      });
    }
  });
  return recipes;
}

// Smaller bursts, EC2's own refill rates: bursts are refused, the steady rate is not.
const shrink = (bucket: TokenBucket): TokenBucket => ({
  burst: bucket.burst / THROTTLE_SHRINK,
  refillPerSecond: bucket.refillPerSecond,
});

function benchProfile(): LatencyProfile {
  const { throttle } = AWS_LATENCY;
  return {
    ...AWS_LATENCY,
    name: 'aws',
    timeScale: TIME_SCALE,
    throttle: {
      'non-mutating': shrink(throttle['non-mutating']),
      mutating: shrink(throttle.mutating),
      'resource-intensive': shrink(throttle['resource-intensive']),
    },
  };
}

/** A bake's part in a slot, by the public figures: pending, SSH, provisioning (the slot is given back at the stop). */
const slotS = (r: SimRecipe) => AWS_LATENCY.pendingS + AWS_LATENCY.sshReadyS + r.provisionS;
/** Until its image is available: then the stop and CreateImage. */
const imageS = (r: SimRecipe) => slotS(r) + AWS_LATENCY.stoppingS + AWS_LATENCY.createImageS;
/** One whole bake: then Packer terminates the instance. */
const bakeS = (r: SimRecipe) => imageS(r) + AWS_LATENCY.shuttingDownS;

/** The longest chain of bakes (by `duration`), then the last one's copies. */
function longestChainS(recipes: SimRecipe[], duration: (r: SimRecipe) => number): number {
  const byName = new Map(recipes.map((r) => [r.name, r]));
  const chain = (r: SimRecipe): number => duration(r) + (r.parent ? chain(byName.get(r.parent)!) : 0);
  return Math.max(...recipes.map((r) => chain(r) + AWS_LATENCY.copyImageS));
}

/**
 * The makespan a list scheduler reaches at `concurrency` by the public figures, each slot held
 * from a bake's start until Packer stops its instance (as bake's slots are), a child ready when
 * its parent's image is available, the ready bake with the highest `priority` first; then the
 * last copy. What bake's own scheduler could reach at best, given what it knows.
 */
function listScheduleS(recipes: SimRecipe[], concurrency: number, priority: (r: SimRecipe) => number): number {
  const ready = recipes.filter((r) => !r.parent);
  const events: Array<{ at: number; recipe: SimRecipe; what: 'slot free' | 'image available' }> = [];
  let now = 0;
  let free = concurrency;
  let last = 0;
  for (;;) {
    ready.sort((a, b) => priority(b) - priority(a));
    while (free > 0 && ready.length) {
      const recipe = ready.shift()!;
      free--;
      events.push({ at: now + slotS(recipe), recipe, what: 'slot free' });
      events.push({ at: now + imageS(recipe), recipe, what: 'image available' });
    }
    if (!events.length) return last + AWS_LATENCY.copyImageS;
    events.sort((a, b) => a.at - b.at);
    const event = events.shift()!;
    now = event.at;
    if (event.what === 'slot free') free++;
    else {
      last = Math.max(last, now);
      ready.push(...recipes.filter((r) => r.parent === event.recipe.name));
    }
  }
}

/** Jenkins in waves (one agent per bake): each level waits for the slowest bake and copies of the one before. */
function jenkinsWavesS(recipes: SimRecipe[], duration: (r: SimRecipe) => number): number {
  const levels = [...new Set(recipes.map((r) => r.level))].sort();
  return levels.reduce(
    (total, level) =>
      total + Math.max(...recipes.filter((r) => r.level === level).map((r) => duration(r) + AWS_LATENCY.copyImageS)),
    0,
  );
}

/** Instances without machines: the stand-in Packer provisions nothing, so nothing needs to boot. */
const paperHost: InstanceHost = {
  launch: async () => ({ ip: '198.18.0.2', sshPort: 22 }),
  stop: async () => {},
  start: async () => ({ ip: '198.18.0.2', sshPort: 22 }),
  capture: async () => {},
  alias: async () => {},
  terminate: async () => {},
  deleteImage: async () => {},
  close: async () => {},
};

async function writeBakery(root: string, recipes: SimRecipe[]): Promise<void> {
  await mkdir(path.join(root, 'recipes'), { recursive: true });
  await mkdir(path.join(root, 'roles', 'motd', 'tasks'), { recursive: true });
  await writeFile(
    path.join(root, 'bake.config.yaml'),
    stringify({ regions: REGIONS, instance_type: 't3.small', ssh_username: 'admin', imdsv2: true }),
  );
  await writeFile(
    path.join(root, 'roles', 'motd', 'tasks', 'main.yml'),
    stringify([{ name: 'motd', 'ansible.builtin.copy': { dest: '/etc/motd', content: 'baked\n' } }]),
  );
  for (const r of recipes) {
    const base = r.parent ? { recipe: r.parent } : { filter: { name: 'debian-12-amd64-*', owners: ['136693071363'] } };
    await writeFile(
      path.join(root, 'recipes', `${r.name}.yaml`),
      stringify({ name: r.name, description: `level ${r.level}`, base, roles: ['motd'], launch_test: false }),
    );
  }
}

const minutes = (seconds: number) => `${(seconds / 60).toFixed(1)} min`;

interface BuildRun {
  wallS: number;
  /** Simulated seconds each recipe's Packer ran. */
  bakeS: Map<string, number>;
  calls: Map<string, number>;
  throttled: Map<string, number>;
  lag: { meanMs: number; p99Ms: number };
  built: number;
}

/** Plans and builds the bakery as `bake build` does (lock, render, tag, distribute), the stand-in Packer baking. */
async function planAndBuild(
  root: string,
  cloud: LocalCloud,
  recipes: SimRecipe[],
  say: (line: string) => void,
): Promise<BuildRun> {
  const bakery = await loadBakery(root);
  const aws: AwsSettings = {
    endpoint: cloud.endpoint,
    credentials: cloud.credentials,
    region: REGIONS[0],
    timeScale: TIME_SCALE,
  };
  const plan = await planBakery(bakery, bakery.recipes, await productionPlanDeps(bakery, aws));
  const packer = standInPacker({
    clients: cachedClients(aws),
    bakes: new Map(
      recipes.map((r): [string, StandInBake] => [r.name, { region: REGIONS[0], provisionS: r.provisionS }]),
    ),
    pollSeconds: AWS_POLLING.delaySeconds,
    timeScale: TIME_SCALE,
  });
  const deps = {
    ...productionBuildDeps({
      bakery,
      aws,
      shape: 'legacy',
      target: { ec2Endpoint: cloud.endpoint },
      lock: { holder: 'bench', waitMs: 0, staleAfterMs: 10 * 60_000 },
    }),
    runPacker: packer.runPacker,
  };
  const callsBefore = new Map(cloud.calls);
  const throttledBefore = new Map(cloud.throttled);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const started = Date.now();
  const marks = new Map<string, { started?: number; settled?: number }>();
  const mark = (name: string, what: 'started' | 'settled') =>
    marks.set(name, { ...marks.get(name), [what]: Date.now() });
  const progress = {
    ...silentProgress,
    started: (name: string) => mark(name, 'started'),
    settled: (name: string) => mark(name, 'settled'),
  };
  const report = await buildBakery(bakery, plan, deps, { concurrency: CONCURRENCY, pin: false, progress });
  lag.disable();
  const wallS = (Date.now() - started) / 1000 / TIME_SCALE;
  const failed = report.recipes.filter((r) => r.status !== 'built');
  if (failed.length)
    throw new Error(`bench build failed: ${failed.map((r) => `${r.name} ${r.status} ${r.error ?? ''}`).join('; ')}`);
  const simS = (ms: number) => ms / 1000 / TIME_SCALE;
  const bakes = new Map(
    recipes.map((r) => [r.name, simS(packer.runs.get(r.name)!.end - packer.runs.get(r.name)!.start)]),
  );
  if (process.env.BAKE_BENCH_DEBUG) {
    const at = (ms: number | undefined) => (ms === undefined ? '?' : simS(ms - started).toFixed(0));
    for (const r of recipes) {
      const run = packer.runs.get(r.name)!;
      say(
        `      ${r.name} (parent ${r.parent ?? '-'}) started ${at(marks.get(r.name)?.started)}, packer ${at(run.start)}–${at(run.end)} (${bakes.get(r.name)!.toFixed(0)} s, figures ${bakeS(r)} s), settled ${at(marks.get(r.name)?.settled)}`,
      );
    }
  }
  const since = (now: Map<string, number>, before: Map<string, number>) =>
    new Map(
      [...now].map(([action, n]): [string, number] => [action, n - (before.get(action) ?? 0)]).filter(([, n]) => n > 0),
    );
  return {
    wallS,
    bakeS: bakes,
    calls: since(cloud.calls, callsBefore),
    throttled: since(cloud.throttled, throttledBefore),
    lag: { meanMs: lag.mean / 1e6, p99Ms: lag.percentile(99) / 1e6 },
    built: report.recipes.length,
  };
}

const total = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
const listed = (counts: Map<string, number>, top = 6) =>
  [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([action, n]) => `${action} ${n}`)
    .join(', ');

export async function simulatedAwsBench(say: (line: string) => void): Promise<void> {
  const recipes = simulatedBakery();
  // In memory when it can be: the local cloud fsyncs state.json on every change, a disk's cost that
  // AWS does not have and that, magnified by the time scale, would count as simulated seconds.
  const root = await mkdtemp(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'bake-bench-aws-'));
  try {
    await writeBakery(root, recipes);
    const cloud = await startLocalCloud({
      stateDir: path.join(root, '.bake', 'local'),
      host: paperHost,
      latency: benchProfile(),
    });
    try {
      const ideal = longestChainS(recipes, bakeS);
      say(
        `(e) simulated AWS build: ${recipes.length} recipes, 4 levels, ${REGIONS.length} regions, concurrency ${CONCURRENCY}; bake's plan and build over HTTP against the local cloud`,
      );
      say(
        `    with BAKE_LOCAL_LATENCY=aws (1 simulated s = ${TIME_SCALE * 1000} ms; EC2's token bucket sizes / ${THROTTLE_SHRINK}); Packer is a stand-in making Packer's EC2 calls (30 real Packer runs would take too long)`,
      );
      say(`    ideal (longest chain of bakes by the public figures + its copy) ${minutes(ideal)}`);
      // The best any scheduler gets at this concurrency, by what it knows of the bakes ahead.
      const below = (r: SimRecipe): SimRecipe[] => recipes.filter((c) => c.parent === r.name);
      const chainBelow = (r: SimRecipe, duration: (r: SimRecipe) => number): number =>
        duration(r) + Math.max(0, ...below(r).map((c) => chainBelow(c, duration)));
      const knowing = listScheduleS(recipes, CONCURRENCY, (r) => chainBelow(r, bakeS));
      const heightsOnly = listScheduleS(recipes, CONCURRENCY, (r) => chainBelow(r, () => 1));
      say(
        `    best schedule at concurrency ${CONCURRENCY} by the same figures (computed): knowing every bake's time ${minutes(knowing)} (${(knowing / ideal).toFixed(3)}), knowing only the chains' lengths in recipes ${minutes(heightsOnly)} (${(heightsOnly / ideal).toFixed(3)})`,
      );
      // The first build knows no bake times; the second (a role every recipe uses changed) plans with the first one's.
      for (const label of [
        'first build (no bake times known)',
        'rebuild of everything after a role change (last bake times known)',
      ]) {
        if (label.startsWith('rebuild'))
          await writeFile(
            path.join(root, 'roles', 'motd', 'tasks', 'main.yml'),
            stringify([{ name: 'motd', 'ansible.builtin.copy': { dest: '/etc/motd', content: 'baked again\n' } }]),
          );
        const run = await planAndBuild(root, cloud, recipes, say);
        const measured = (r: SimRecipe) => run.bakeS.get(r.name)!;
        const overheadS = recipes.reduce((sum, r) => sum + measured(r) - bakeS(r), 0) / recipes.length;
        say(
          `    ${label}: bake build ${minutes(run.wallS)}, ratio to the ideal ${(run.wallS / ideal).toFixed(3)}; all ${run.built} built`,
        );
        say(
          `      a bake took ${overheadS.toFixed(0)} simulated s more than its figures on average (Packer's ${AWS_POLLING.delaySeconds} s polls, API latency, throttling, this machine's load: its event loop was late by ${run.lag.meanMs.toFixed(0)} ms on average, p99 ${run.lag.p99Ms.toFixed(0)} ms, × ${(1 / TIME_SCALE).toFixed(0)} in simulated time)`,
        );
        say(
          `      serial rebuild-everything loop (each measured bake, then its copies) ${minutes(recipes.reduce((sum, r) => sum + measured(r) + AWS_LATENCY.copyImageS, 0))}`,
        );
        say(
          `      Jenkins, one agent per bake (measured bakes): each stage on its own parent ${minutes(longestChainS(recipes, measured))}, in waves ${minutes(jenkinsWavesS(recipes, measured))}`,
        );
        say(
          `      EC2 calls ${total(run.calls)} (${listed(run.calls)}, …); throttled ${total(run.throttled)}${run.throttled.size ? ` (${listed(run.throttled, 20)})` : ''}, retried by the SDK`,
        );
      }
    } finally {
      await cloud.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
