/**
 * `npm run bench`, scenario (e): how long does `bake build` take on AWS for a bakery of 30
 * recipes, 4 levels deep, 4 regions, at concurrency 8? bake's real plan and build (scheduler,
 * lock, render, tagging, distribution: copies, IMDSv2, their waiters) run over HTTP against the
 * local cloud with the `aws` latency profile (docs/local-cloud.md#latency), time scaled down,
 * with EC2's token buckets shrunk so that bursts really get RequestLimitExceeded. Packer is a
 * stand-in (src/bench/stand-in-packer.ts) that makes Packer's EC2 calls and waits; only the
 * provisioning itself is a stand-in time per recipe.
 *
 * Every recipe is launch-tested, as by default: bake's real launch test (RunInstances, its waits,
 * TerminateInstances, the temporary key pair and security group) over the same HTTP, with a
 * stand-in for what it does over SSH (src/bench/stand-in-remote.ts: sshd and cloud-init times).
 *
 * Printed side by side: bake's wall time; the ideals (the longest chain of bakes by the public
 * figures, then its last copy: without launch tests, with one per level on the critical path, and
 * with only the last image's, which nothing can overlap); a serial "rebuild everything" loop and
 * the Jenkins plans, from the bakes measured in this run; EC2 calls and throttled calls. Last, a
 * run where one parent fails its launch test: what its children had baked meanwhile (wasted), and
 * what is left of it in the cloud (nothing: no instance, image, snapshot or copy).
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
import { standInRemote } from './stand-in-remote.js';
import { ec2TestInstanceSession } from '../aws/test-instance.js';
import { runLaunchTest } from '../launch-test/launch-test.js';
import type { LaunchTestCall } from '../pipeline/build-run.js';
import type { BuildReport } from '../pipeline/build-report.js';
import { DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';

/** Real seconds per simulated second (0.03: a simulated hour in 108 s; smaller makes this machine's own delays count 1/scale times). */
const TIME_SCALE = Number(process.env.BAKE_BENCH_TIME_SCALE ?? 0.03);
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-2', 'us-west-2'];
const CONCURRENCY = Number(process.env.BAKE_BENCH_CONCURRENCY ?? 8);
/** EC2's bucket sizes divided by this: the bench's 30 recipes must meet throttling, as a busy account does. */
const THROTTLE_SHRINK = Number(process.env.BAKE_BENCH_THROTTLE_SHRINK ?? 20);
/** Simulated seconds cloud-init takes on a launch test's first boot (user-data, then `cloud-init status --wait`). */
const CLOUD_INIT_S = 30;
/** One launch test by the public figures: pending, SSH, cloud-init, terminate. */
export const LAUNCH_TEST_S = AWS_LATENCY.pendingS + AWS_LATENCY.sshReadyS + CLOUD_INIT_S + AWS_LATENCY.shuttingDownS;

export interface SimRecipe {
  name: string;
  parent?: string;
  level: number;
  provisionS: number;
  /** Its own regions, the first its build region (default: the bakery's four, us-east-1 first). */
  regions?: string[];
  /** Simulated seconds cloud-init takes in its launch test (default CLOUD_INIT_S). */
  cloudInitS?: number;
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

export async function writeBakery(root: string, recipes: SimRecipe[]): Promise<void> {
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
      stringify({ name: r.name, description: `level ${r.level}`, base, roles: ['motd'], regions: r.regions }),
    );
  }
}

const minutes = (seconds: number) => `${(seconds / 60).toFixed(1)} min`;

export interface BenchRun {
  report: BuildReport;
  wallS: number;
  /** Simulated seconds each recipe's Packer ran. */
  bakeS: Map<string, number>;
  calls: Map<string, number>;
  throttled: Map<string, number>;
  lag: { meanMs: number; p99Ms: number };
  built: number;
  /** Recipes whose Packer was interrupted, and the simulated seconds it had run. */
  stopped: Map<string, number>;
}

/**
 * Plans and builds the bakery as `bake build` does (lock, render, tag, launch test, distribute),
 * the stand-in Packer baking; the recipes in `failing` fail their launch tests.
 */
export async function planAndBuild(
  root: string,
  cloud: LocalCloud,
  recipes: SimRecipe[],
  say: (line: string) => void,
  failing: ReadonlySet<string> = new Set(),
): Promise<BenchRun> {
  const bakery = await loadBakery(root);
  const aws: AwsSettings = {
    endpoint: cloud.endpoint,
    credentials: cloud.credentials,
    region: REGIONS[0],
    timeScale: TIME_SCALE,
  };
  const plan = await planBakery(bakery, bakery.recipes, await productionPlanDeps(bakery, aws));
  const clients = cachedClients(aws);
  const packer = standInPacker({
    clients,
    bakes: new Map(
      recipes.map((r): [string, StandInBake] => [
        r.name,
        { region: r.regions?.[0] ?? REGIONS[0], provisionS: r.provisionS },
      ]),
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
    // Paper instances answer no SSH: the stand-in takes sshd's and cloud-init's time. The security group
    // lets this agent's loopback in (no route lookup towards the paper address).
    launchTest: (request: LaunchTestCall) =>
      runLaunchTest(
        { ...request, bakery, target: { sshPort: 22, sshFrom: '127.0.0.1/32' } },
        {
          session: (region) => ec2TestInstanceSession(clients(region), region),
          remote: standInRemote({
            timeScale: TIME_SCALE,
            sshReadyS: AWS_LATENCY.sshReadyS,
            cloudInitS: recipes.find((r) => r.name === request.recipe.name)?.cloudInitS ?? CLOUD_INIT_S,
            fails: failing.has(request.recipe.name),
          }),
          now: () => Date.now(),
        },
      ),
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
  const expected = (r: (typeof failed)[number]) =>
    failing.has(r.name) || (r.status === 'skipped' && /^(parent|ancestor) /.test(r.error ?? ''));
  if (failed.some((r) => !expected(r)))
    throw new Error(`bench build failed: ${failed.map((r) => `${r.name} ${r.status} ${r.error ?? ''}`).join('; ')}`);
  const simS = (ms: number) => ms / 1000 / TIME_SCALE;
  const ran = [...packer.runs].map(([name, run]): [string, number] => [name, simS(run.end - run.start)]);
  const bakes = new Map(ran.filter(([name]) => !packer.runs.get(name)!.interrupted));
  const stopped = new Map(ran.filter(([name]) => packer.runs.get(name)!.interrupted));
  if (process.env.BAKE_BENCH_DEBUG) {
    const at = (ms: number | undefined) => (ms === undefined ? '?' : simS(ms - started).toFixed(0));
    for (const r of recipes.filter((r) => packer.runs.has(r.name))) {
      const run = packer.runs.get(r.name)!;
      say(
        `      ${r.name} (parent ${r.parent ?? '-'}) started ${at(marks.get(r.name)?.started)}, packer ${at(run.start)}–${at(run.end)} (${simS(run.end - run.start).toFixed(0)} s, figures ${bakeS(r)} s), settled ${at(marks.get(r.name)?.settled)}`,
      );
    }
  }
  const since = (now: Map<string, number>, before: Map<string, number>) =>
    new Map(
      [...now].map(([action, n]): [string, number] => [action, n - (before.get(action) ?? 0)]).filter(([, n]) => n > 0),
    );
  return {
    report,
    wallS,
    stopped,
    bakeS: bakes,
    calls: since(cloud.calls, callsBefore),
    throttled: since(cloud.throttled, throttledBefore),
    lag: { meanMs: lag.mean / 1e6, p99Ms: lag.percentile(99) / 1e6 },
    built: report.recipes.filter((r) => r.status === 'built').length,
  };
}

const total = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
const listed = (counts: Map<string, number>, top = 6) =>
  [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([action, n]) => `${action} ${n}`)
    .join(', ');

/** What the cloud still holds that it should not: instances not terminated, and images, snapshots and copies made on a failed image. */
export interface Leftovers {
  instances: string[];
  images: string[];
  snapshots: string[];
  copies: string[];
}

/**
 * Looks in every region for what a run with a failed launch test must not leave: any instance not
 * terminated (build or test instance), any image of the failed recipe's descendants with this run's
 * fingerprints, any copy of the failed image or theirs, any image no bake tag names (a half-made
 * one), and any snapshot no image uses.
 */
export async function leftoversOf(cloud: LocalCloud, report: BuildReport, failed: string): Promise<Leftovers> {
  const clients = cachedClients({ endpoint: cloud.endpoint, credentials: cloud.credentials, region: REGIONS[0] });
  const fingerprints = new Map(report.recipes.map((r) => [r.name, r.fingerprint]));
  // Everything not built in this run, but the failed recipe itself (its image stays, tagged failed).
  const onFailed = new Set(report.recipes.filter((r) => r.status !== 'built' && r.name !== failed).map((r) => r.name));
  const leftovers: Leftovers = { instances: [], images: [], snapshots: [], copies: [] };
  for (const region of REGIONS) {
    const ec2 = clients(region);
    const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({}));
    for (const instance of Reservations.flatMap((r) => r.Instances ?? []))
      if (instance.State?.Name !== 'terminated') leftovers.instances.push(`${region} ${instance.InstanceId}`);
    const { Images = [] } = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    const used = new Set<string>();
    for (const image of Images) {
      const tags = Object.fromEntries((image.Tags ?? []).map((t) => [t.Key, t.Value]));
      for (const m of image.BlockDeviceMappings ?? []) if (m.Ebs?.SnapshotId) used.add(m.Ebs.SnapshotId);
      const recipe = tags['bake:recipe'];
      const ofThisRun = recipe !== undefined && tags['bake:fingerprint'] === fingerprints.get(recipe);
      const where = `${region} ${image.ImageId} (${recipe ?? image.Name})`;
      if (recipe === undefined) leftovers.images.push(where);
      else if (ofThisRun && onFailed.has(recipe)) leftovers.images.push(where);
      else if (ofThisRun && recipe === failed && region !== REGIONS[0]) leftovers.copies.push(where);
    }
    const { Snapshots = [] } = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
    for (const snapshot of Snapshots)
      if (!used.has(snapshot.SnapshotId!)) leftovers.snapshots.push(`${region} ${snapshot.SnapshotId}`);
  }
  return leftovers;
}

/** A bakery of `recipes` in a temp folder (in memory when it can be) and a local cloud with the bench's profile, for `body`. */
export async function withBenchCloud<T>(
  recipes: SimRecipe[],
  body: (root: string, cloud: LocalCloud) => Promise<T>,
): Promise<T> {
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
      return await body(root, cloud);
    } finally {
      await cloud.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** A role every recipe uses changes: the next plan rebuilds everything. */
async function changeRole(root: string, content: string): Promise<void> {
  await writeFile(
    path.join(root, 'roles', 'motd', 'tasks', 'main.yml'),
    stringify([{ name: 'motd', 'ansible.builtin.copy': { dest: '/etc/motd', content } }]),
  );
}

export async function simulatedAwsBench(say: (line: string) => void): Promise<void> {
  const recipes = simulatedBakery();
  await withBenchCloud(recipes, async (root, cloud) => {
    const ideal = longestChainS(recipes, bakeS);
    const testedEachLevel = longestChainS(recipes, (r) => bakeS(r) + LAUNCH_TEST_S);
    const testedLast = ideal + LAUNCH_TEST_S;
    say(
      `(e) simulated AWS build: ${recipes.length} recipes, 4 levels, ${REGIONS.length} regions, concurrency ${CONCURRENCY}, every recipe launch-tested; bake's plan and build over HTTP against the local cloud`,
    );
    say(
      `    with BAKE_LOCAL_LATENCY=aws (1 simulated s = ${TIME_SCALE * 1000} ms; EC2's token bucket sizes / ${THROTTLE_SHRINK}); Packer is a stand-in making Packer's EC2 calls (30 real Packer runs would take too long); the launch test is bake's own, its SSH part a stand-in (sshd ${AWS_LATENCY.sshReadyS} s, cloud-init ${CLOUD_INIT_S} s)`,
    );
    say(
      `    ideal (longest chain of bakes by the public figures + its copy): without launch tests ${minutes(ideal)}; with a launch test (${LAUNCH_TEST_S} s) per level on the critical path ${minutes(testedEachLevel)} (${(testedEachLevel / ideal).toFixed(3)}); with only the last image's ${minutes(testedLast)} (${(testedLast / ideal).toFixed(3)})`,
    );
    // The best any scheduler gets at this concurrency, by what it knows of the bakes ahead.
    const below = (r: SimRecipe): SimRecipe[] => recipes.filter((c) => c.parent === r.name);
    const chainBelow = (r: SimRecipe, duration: (r: SimRecipe) => number): number =>
      duration(r) + Math.max(0, ...below(r).map((c) => chainBelow(c, duration)));
    const knowing = listScheduleS(recipes, CONCURRENCY, (r) => chainBelow(r, bakeS));
    const heightsOnly = listScheduleS(recipes, CONCURRENCY, (r) => chainBelow(r, () => 1));
    say(
      `    best schedule at concurrency ${CONCURRENCY} by the same figures, without launch tests (computed): knowing every bake's time ${minutes(knowing)} (${(knowing / ideal).toFixed(3)}), knowing only the chains' lengths in recipes ${minutes(heightsOnly)} (${(heightsOnly / ideal).toFixed(3)})`,
    );
    // The first build knows no bake times; the second (a role every recipe uses changed) plans with the first one's.
    for (const label of [
      'first build (no bake times known)',
      'rebuild of everything after a role change (last bake times known)',
    ]) {
      if (label.startsWith('rebuild')) await changeRole(root, 'baked again\n');
      const run = await planAndBuild(root, cloud, recipes, say);
      const measured = (r: SimRecipe) => run.bakeS.get(r.name)!;
      const overheadS = recipes.reduce((sum, r) => sum + measured(r) - bakeS(r), 0) / recipes.length;
      say(
        `    ${label}: bake build ${minutes(run.wallS)}, ratio to the ideal without launch tests ${(run.wallS / ideal).toFixed(3)}, to the one with only the last image's ${(run.wallS / testedLast).toFixed(3)}; all ${run.built} built`,
      );
      say(
        `      a bake took ${overheadS.toFixed(0)} simulated s more than its figures on average (Packer's ${AWS_POLLING.delaySeconds} s polls, API latency, throttling, this machine's load: its event loop was late by ${run.lag.meanMs.toFixed(0)} ms on average, p99 ${run.lag.p99Ms.toFixed(0)} ms, × ${(1 / TIME_SCALE).toFixed(0)} in simulated time)`,
      );
      say(
        `      serial rebuild-everything loop (each measured bake, its launch test, then its copies) ${minutes(recipes.reduce((sum, r) => sum + measured(r) + LAUNCH_TEST_S + AWS_LATENCY.copyImageS, 0))}`,
      );
      const tested = (r: SimRecipe) => measured(r) + LAUNCH_TEST_S;
      // The Jenkinsfile's branch starts on its parent's finished image (--parent-untested), so only the chain's last
      // launch test, then its distribution run, is on the path; before, every parent's test was.
      say(
        `      Jenkins, one agent per bake (measured bakes): each stage on its parent's finished image ${minutes(longestChainS(recipes, measured) + LAUNCH_TEST_S)}; each stage after its parent's launch test ${minutes(longestChainS(recipes, tested))}; in waves ${minutes(jenkinsWavesS(recipes, tested))}`,
      );
      say(
        `      EC2 calls ${total(run.calls)} (${listed(run.calls)}, …); throttled ${total(run.throttled)}${run.throttled.size ? ` (${listed(run.throttled, 20)})` : ''}, retried by the SDK`,
      );
    }
    // One parent (level 1, with children and grandchildren) fails its launch test.
    const failing = recipes.find((r) => r.level === 1)!;
    await changeRole(root, 'baked a third time\n');
    const run = await planAndBuild(root, cloud, recipes, say, new Set([failing.name]));
    const skipped = run.report.recipes.filter((r) => r.status === 'skipped');
    const wastedS = [...run.stopped.values()].reduce((a, b) => a + b, 0);
    const left = await leftoversOf(cloud, run.report, failing.name);
    const count = (list: string[]) => `${list.length}${list.length ? ` (${list.slice(0, 3).join(', ')}…)` : ''}`;
    say(
      `    rebuild where ${failing.name} (level 1) fails its launch test: bake build ${minutes(run.wallS)}; ${run.built} built, ${skipped.length} skipped (its descendants); ${run.stopped.size} children had started on its image and were stopped, their Packer interrupted after ${(wastedS / 60).toFixed(1)} simulated bake-minutes in all (${[...run.stopped].map(([name, seconds]) => `${name} ${seconds.toFixed(0)} s`).join(', ')})`,
    );
    say(
      `      left behind: instances ${count(left.instances)}, images of its descendants ${count(left.images)}, snapshots without an image ${count(left.snapshots)}, copies ${count(left.copies)}; its own image stays, tagged bake:launch-test=failed`,
    );
  });
}
