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
import { AWS_LATENCY, startLocalCloud, type InstanceHost, type LatencyProfile } from '../local-cloud/index.js';
import { AWS_POLLING } from '../packer/template.js';
import { buildBakery } from '../pipeline/build.js';
import { silentProgress } from '../pipeline/progress.js';
import { productionBuildDeps } from '../pipeline/build-deps.js';
import { planBakery } from '../pipeline/plan.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import { loadBakery } from '../recipes/load-bakery.js';
import type { TokenBucket } from '../local-cloud/latency-profile.js';
import { standInPacker, type StandInBake } from './stand-in-packer.js';

/** Real seconds per simulated second (0.02: a simulated hour in 72 s). */
const TIME_SCALE = Number(process.env.BAKE_BENCH_TIME_SCALE ?? 0.02);
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-2', 'us-west-2'];
const CONCURRENCY = Number(process.env.BAKE_BENCH_CONCURRENCY ?? 8);
/** EC2's buckets divided by this: the bench's 30 recipes must meet throttling, as a busy account does. */
const THROTTLE_SHRINK = Number(process.env.BAKE_BENCH_THROTTLE_SHRINK ?? 10);

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

const shrink = (bucket: TokenBucket): TokenBucket => ({ burst: bucket.burst / THROTTLE_SHRINK, refillPerSecond: bucket.refillPerSecond / THROTTLE_SHRINK });

function benchProfile(): LatencyProfile {
  const { throttle } = AWS_LATENCY;
  return {
    ...AWS_LATENCY, name: 'aws', timeScale: TIME_SCALE,
    throttle: { 'non-mutating': shrink(throttle['non-mutating']), mutating: shrink(throttle.mutating), 'resource-intensive': shrink(throttle['resource-intensive']) },
  };
}

/** One bake by the public figures: pending, SSH, provisioning, stop, CreateImage, terminate. */
const bakeS = (r: SimRecipe) => AWS_LATENCY.pendingS + AWS_LATENCY.sshReadyS + r.provisionS + AWS_LATENCY.stoppingS + AWS_LATENCY.createImageS + AWS_LATENCY.shuttingDownS;

/** The longest chain of bakes (by `duration`), then the last one's copies. */
function longestChainS(recipes: SimRecipe[], duration: (r: SimRecipe) => number): number {
  const byName = new Map(recipes.map((r) => [r.name, r]));
  const chain = (r: SimRecipe): number => duration(r) + (r.parent ? chain(byName.get(r.parent)!) : 0);
  return Math.max(...recipes.map((r) => chain(r) + AWS_LATENCY.copyImageS));
}

/** Jenkins in waves (one agent per bake): each level waits for the slowest bake and copies of the one before. */
function jenkinsWavesS(recipes: SimRecipe[], duration: (r: SimRecipe) => number): number {
  const levels = [...new Set(recipes.map((r) => r.level))].sort();
  return levels.reduce((total, level) => total + Math.max(...recipes.filter((r) => r.level === level).map((r) => duration(r) + AWS_LATENCY.copyImageS)), 0);
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
  await writeFile(path.join(root, 'bake.config.yaml'), stringify({ regions: REGIONS, instance_type: 't3.small', ssh_username: 'admin', imdsv2: true }));
  await writeFile(path.join(root, 'roles', 'motd', 'tasks', 'main.yml'), stringify([{ name: 'motd', 'ansible.builtin.copy': { dest: '/etc/motd', content: 'baked\n' } }]));
  for (const r of recipes) {
    const base = r.parent ? { recipe: r.parent } : { filter: { name: 'debian-12-amd64-*', owners: ['136693071363'] } };
    await writeFile(path.join(root, 'recipes', `${r.name}.yaml`), stringify({ name: r.name, description: `level ${r.level}`, base, roles: ['motd'], launch_test: false }));
  }
}

const minutes = (seconds: number) => `${(seconds / 60).toFixed(1)} min`;

export async function simulatedAwsBench(say: (line: string) => void): Promise<void> {
  const recipes = simulatedBakery();
  // In memory when it can be: the local cloud fsyncs state.json on every change, a disk's cost that
  // AWS does not have and that, 50 times magnified by the time scale, would count as simulated seconds.
  const root = await mkdtemp(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'bake-bench-aws-'));
  try {
    await writeBakery(root, recipes);
    const bakery = await loadBakery(root);
    const profile = benchProfile();
    const cloud = await startLocalCloud({ stateDir: path.join(root, '.bake', 'local'), host: paperHost, latency: profile });
    try {
      const aws: AwsSettings = { endpoint: cloud.endpoint, credentials: cloud.credentials, region: REGIONS[0], timeScale: TIME_SCALE };
      const plan = await planBakery(bakery, bakery.recipes, await productionPlanDeps(bakery, aws));
      const packer = standInPacker({
        clients: cachedClients(aws),
        bakes: new Map(recipes.map((r): [string, StandInBake] => [r.name, { region: REGIONS[0], provisionS: r.provisionS }])),
        pollSeconds: AWS_POLLING.delaySeconds,
        timeScale: TIME_SCALE,
      });
      const deps = {
        ...productionBuildDeps({ bakery, aws, shape: 'legacy', target: { ec2Endpoint: cloud.endpoint }, lock: { holder: 'bench', waitMs: 0, staleAfterMs: 10 * 60_000 } }),
        runPacker: packer.runPacker,
      };
      cloud.calls.clear();
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      const started = Date.now();
      const marks = new Map<string, { started?: number; settled?: number }>();
      const mark = (name: string, what: 'started' | 'settled') => marks.set(name, { ...marks.get(name), [what]: Date.now() });
      const progress = { ...silentProgress, started: (name: string) => mark(name, 'started'), settled: (name: string) => mark(name, 'settled') };
      const report = await buildBakery(bakery, plan, deps, { concurrency: CONCURRENCY, pin: false, progress });
      lag.disable();
      const wallS = (Date.now() - started) / 1000 / TIME_SCALE;
      const failed = report.recipes.filter((r) => r.status !== 'built');
      if (failed.length) throw new Error(`bench build failed: ${failed.map((r) => `${r.name} ${r.status} ${r.error ?? ''}`).join('; ')}`);

      const measured = (r: SimRecipe) => {
        const run = packer.runs.get(r.name)!;
        return (run.end - run.start) / 1000 / TIME_SCALE;
      };
      const ideal = longestChainS(recipes, bakeS);
      const overheadS = recipes.reduce((total, r) => total + measured(r) - bakeS(r), 0) / recipes.length;
      const at = (ms: number | undefined) => (ms === undefined ? '?' : (((ms - started) / 1000) / TIME_SCALE).toFixed(0));
      if (process.env.BAKE_BENCH_DEBUG) {
        for (const r of recipes) {
          const run = packer.runs.get(r.name)!;
          say(`      ${r.name} (parent ${r.parent ?? '-'}) started ${at(marks.get(r.name)?.started)}, packer ${at(run.start)}–${at(run.end)} (${measured(r).toFixed(0)} s, figures ${bakeS(r)} s), settled ${at(marks.get(r.name)?.settled)}`);
        }
      }
      const serial = recipes.reduce((total, r) => total + measured(r) + AWS_LATENCY.copyImageS, 0);
      const calls = [...cloud.calls.values()].reduce((a, b) => a + b, 0);
      const throttled = [...cloud.throttled.values()].reduce((a, b) => a + b, 0);
      const top = [...cloud.calls.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([action, n]) => `${action} ${n}`).join(', ');
      const throttledBy = [...cloud.throttled.entries()].map(([action, n]) => `${action} ${n}`).join(', ');
      say(`(e) simulated AWS build: ${recipes.length} recipes, 4 levels, ${REGIONS.length} regions, concurrency ${CONCURRENCY}; bake's plan and build over HTTP against the local cloud`);
      say(`    with BAKE_LOCAL_LATENCY=aws (1 simulated s = ${TIME_SCALE * 1000} ms; EC2's token buckets / ${THROTTLE_SHRINK}); Packer is a stand-in making Packer's EC2 calls (30 real Packer runs would take too long)`);
      say(`    bake build ${minutes(wallS)}; ideal (longest chain of bakes by the public figures + its copy) ${minutes(ideal)}; ratio ${(wallS / ideal).toFixed(3)}; all ${report.recipes.length} built`);
      say(`    one bake took ${overheadS.toFixed(0)} simulated s more than its figures on average (Packer's ${AWS_POLLING.delaySeconds} s polls, API latency, throttling, this machine's load)`);
      say(`    serial rebuild-everything loop (each bake then its copies, measured bakes) ${minutes(serial)}`);
      say(`    Jenkins, one agent per bake (measured bakes): each stage on its own parent ${minutes(longestChainS(recipes, measured))}, in waves ${minutes(jenkinsWavesS(recipes, measured))}`);
      say(`    this process's event loop was late by ${(lag.mean / 1e6).toFixed(0)} ms on average, p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms (× ${(1 / TIME_SCALE).toFixed(0)} in simulated time; BAKE_BENCH_TIME_SCALE=0.05 halves this on a loaded machine)`);
      say(`    EC2 calls ${calls} (${top}, …); throttled ${throttled}${throttledBy ? ` (${throttledBy})` : ''}, retried by the SDK`);
    } finally {
      await cloud.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
