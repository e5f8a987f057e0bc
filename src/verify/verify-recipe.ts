/**
 * `bake verify`'s core: provision a recipe's chain into its kept local instance with
 * ansible-playbook, optionally run it all again to prove nothing changes, then run the recipe's
 * verify checks one by one. Processes and files sit behind VerifyDeps.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { WriteStream } from 'node:fs';
import { BakeError, UsageError } from '../errors/index.js';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { withPidLock } from '../local-cloud/rootfs-lock.js';
import { renderRecipe } from '../packer/render.js';
import { ansibleCollectionsPath, ansibleRolesPath } from '../packer/template.js';
import type { Bakery, Recipe, VerifyCheck } from '../recipes/model.js';
import type { FailedTask } from './ansible-output.js';
import type { AwsSettings } from '../aws/settings.js';
import { readSecureParameter } from '../aws/secure-parameter.js';
import { resolveSecrets, type SecretValues } from '../secrets/resolve.js';
import { withSecretsFile } from '../secrets/secrets-file.js';
import {
  closeLog,
  openLog,
  runPlaybook,
  writeInventory,
  type PlaybookRequest,
  type PlaybookResult,
} from './ansible-run.js';
import { checkResult, seconds, type CheckResult, type ScriptRun } from './check-result.js';
import { bootedKeptInstance, type KeptInstance, type SshTarget } from './kept-instance.js';
import { runCheckOverSsh } from './ssh-check.js';
import { leftoversOf, playbookExtraVars, provisionRecord, verifyChain, type ProvisionRecord } from './verify-plan.js';

async function noSecretReader(): Promise<never> {
  throw new BakeError('this verify cannot read build-time secrets');
}

export interface VerifyDeps {
  /** `machine`: the recipe's `local: {machine}` (a container when absent). */
  instance(name: string, stateDir: string, machine?: 'vm'): KeptInstance;
  runPlaybook(request: PlaybookRequest): Promise<PlaybookResult>;
  runCheck(target: SshTarget, check: VerifyCheck, signal?: AbortSignal): Promise<ScriptRun>;
  /** Reads the chain's build-time secrets (src/secrets/resolve.ts); absent: recipes with secrets cannot be verified. */
  resolveSecrets?(recipes: Recipe[]): Promise<Map<string, SecretValues>>;
}

export function productionVerifyDeps(options: {
  bakeryRoot: string;
  rootfsCache?: string;
  log?: (line: string) => void;
  aws?: AwsSettings;
}): VerifyDeps {
  return {
    instance: (name, stateDir, machine) => bootedKeptInstance({ ...options, name, stateDir, machine }),
    runPlaybook,
    runCheck: runCheckOverSsh,
    resolveSecrets: (recipes) =>
      resolveSecrets(recipes, {
        env: process.env,
        readParameter: (region, name) => readSecureParameter(options.aws ?? {}, region, name),
      }),
  };
}

export interface VerifyOptions {
  /** Remove the kept instance first and provision a new one from the base. */
  fresh?: boolean;
  /** Run the chain a second time; any change in that run fails the verify. */
  idempotence?: boolean;
  signal?: AbortSignal;
  /** Progress lines for people. */
  progress?: (line: string) => void;
}

/** One ansible-playbook run: one recipe of the chain. */
export interface StageRun {
  recipe: string;
  status: 'ok' | 'failed' | 'interrupted';
  changed: number;
  ok: number;
  changed_tasks: string[];
  failed_tasks: FailedTask[];
  duration_s: number;
}

export interface VerifyReport {
  name: string;
  status: 'passed' | 'failed' | 'interrupted';
  /** Recipes provisioned, root first. */
  chain: string[];
  /** `ready_s`: until sshd answered (a filesystem copy when created, an sshd start otherwise). */
  instance: { created: boolean; address: string; state_dir: string; ready_s: number };
  provision: StageRun[];
  /** With --idempotence: the second run, which must change nothing. */
  idempotence: { passed: boolean; changed: number; changed_tasks: string[]; stages: StageRun[] } | null;
  checks: CheckResult[];
  /** Things an earlier run provisioned that the recipes no longer ask for (kept until --fresh). */
  leftovers: string[];
  /** Ansible's full output of this call. */
  log: string;
  duration_s: number;
}

export function verifyRoot(bakeryRoot: string): string {
  return path.join(bakeryRoot, '.bake', 'verify');
}

const SAFE_NAME = /^[a-z0-9][a-z0-9-]*$/;

export function verifyStateDir(bakeryRoot: string, name: string): string {
  if (!SAFE_NAME.test(name)) throw new UsageError(`not a recipe name: ${JSON.stringify(name)}`);
  return path.join(verifyRoot(bakeryRoot), name);
}

/** One verify at a time per recipe: a second one fails at once instead of sharing the instance. */
async function withRecipeLock<T>(bakeryRoot: string, name: string, action: () => Promise<T>): Promise<T> {
  await mkdir(verifyRoot(bakeryRoot), { recursive: true, mode: 0o755 });
  return withPidLock(path.join(verifyRoot(bakeryRoot), `${name}.lock`), action, {
    onWait: (holder) => {
      throw new BakeError(`another bake verify of ${name} is running (process ${holder}); wait for it or stop it`);
    },
  });
}

export async function verifyRecipe(
  bakery: Bakery,
  recipe: Recipe,
  deps: VerifyDeps,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  return withRecipeLock(bakery.root, recipe.name, () => verifyLocked(bakery, recipe, deps, options));
}

/** Each recipe in turn, on its own instance; an interruption stops before the next one. */
export async function verifyRecipes(
  bakery: Bakery,
  recipes: readonly Recipe[],
  deps: VerifyDeps,
  options: VerifyOptions = {},
): Promise<VerifyReport[]> {
  const reports: VerifyReport[] = [];
  for (const recipe of recipes) {
    if (options.signal?.aborted) break;
    reports.push(await verifyRecipe(bakery, recipe, deps, options));
  }
  return reports;
}

async function verifyLocked(
  bakery: Bakery,
  recipe: Recipe,
  deps: VerifyDeps,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const started = Date.now();
  const say = (line: string) => options.progress?.(`${recipe.name}: ${line}`);
  const stateDir = verifyStateDir(bakery.root, recipe.name);
  const recordFile = path.join(stateDir, 'provisioned.json');
  const logFile = path.join(stateDir, 'ansible.log');
  const interrupted = () => Boolean(options.signal?.aborted);

  // The files `bake render` writes, so Ansible runs exactly the playbooks Packer would.
  const chain = verifyChain(bakery, recipe);
  const rendered: { recipe: Recipe; playbook: string; cloudInitFiles: string[] }[] = [];
  for (const stage of chain) {
    const out = await renderRecipe(bakery, stage, path.join(stateDir, 'render'), { shape: 'legacy' });
    rendered.push({
      recipe: stage,
      playbook: out.playbook,
      cloudInitFiles: out.cloudInit.map((file) => path.basename(file)),
    });
  }
  const rolesPath = ansibleRolesPath(bakery);
  // Read before the instance starts: a missing secret names its recipe line and changes nothing.
  const secrets = chain.some((stage) => stage.secrets?.length)
    ? await (deps.resolveSecrets ?? noSecretReader)(chain)
    : new Map<string, SecretValues>();

  const instance = deps.instance(recipe.name, stateDir, recipe.localMachine);
  const report: VerifyReport = {
    name: recipe.name,
    status: 'failed',
    chain: chain.map((r) => r.name),
    instance: { created: false, address: '', state_dir: stateDir, ready_s: 0 },
    provision: [],
    idempotence: null,
    checks: [],
    leftovers: [],
    log: logFile,
    duration_s: 0,
  };
  let log: WriteStream | undefined;
  try {
    say(options.fresh ? 'making a fresh instance from the base root filesystem' : 'starting the kept instance');
    const upSince = Date.now();
    const { target, created } = await instance.up({ fresh: Boolean(options.fresh) });
    report.instance = {
      created,
      address: `${target.ip}:${target.sshPort}`,
      state_dir: stateDir,
      ready_s: seconds(Date.now() - upSince),
    };
    say(`${created ? 'new instance' : 'kept instance'} at ${report.instance.address}`);

    // A new filesystem holds nothing an earlier record speaks of, even if this run fails.
    if (created) await rm(recordFile, { force: true });
    const previous = created ? undefined : await readRecord(recordFile);
    const now = new Date().toISOString();
    const record = provisionRecord(recipe, rendered, previous?.createdAt ?? now, now);
    report.leftovers = previous ? leftoversOf(previous, record) : [];
    if (report.leftovers.length)
      say(`still on the instance from an earlier run: ${report.leftovers.join(', ')} (use --fresh to start clean)`);

    const inventory = path.join(stateDir, 'inventory.json');
    await writeInventory(inventory, target);
    log = openLog(logFile);
    const chainRun: ChainRun = {
      stages: rendered,
      inventory,
      rolesPath,
      collectionsPath: ansibleCollectionsPath(bakery),
      log,
      signal: options.signal,
      say,
      runPlaybook: deps.runPlaybook,
      secrets,
    };
    const runChain = (pass: string) => provisionChain(chainRun, pass);

    report.provision = await runChain('provisioning');
    const provisioned = chainComplete(report.provision, rendered.length);
    if (provisioned)
      await writeFileAtomic(recordFile, `${JSON.stringify(record, null, 2)}\n`, { createDirectory: true });

    if (provisioned && options.idempotence && !interrupted()) {
      const stages = await runChain('idempotence: running again');
      const changedTasks = stages.flatMap((run) => run.changed_tasks.map((task) => `${run.recipe}: ${task}`));
      const changed = stages.reduce((sum, run) => sum + run.changed, 0);
      const complete = chainComplete(stages, rendered.length);
      report.idempotence = { passed: complete && changed === 0, changed, changed_tasks: changedTasks, stages };
      if (complete)
        say(
          changed === 0
            ? 'idempotent: the second run changed nothing'
            : `NOT idempotent: the second run changed ${changed}: ${changedTasks.join('; ')}`,
        );
    }

    if (provisioned && !interrupted()) {
      if (recipe.verify.length === 0) say('the recipe has no verify checks');
      for (const check of recipe.verify) {
        if (interrupted()) break;
        const result = checkResult(check, await deps.runCheck(target, check, options.signal));
        report.checks.push(result);
        say(`  ${result.status === 'passed' ? 'ok' : 'FAILED'}: ${result.check}`);
      }
    }
    report.status = verdict(report, rendered.length, interrupted());
    return report;
  } finally {
    if (log) await closeLog(log);
    say('stopping the instance (its filesystem is kept)');
    await instance.close();
    report.duration_s = seconds(Date.now() - started);
  }
}

interface ChainRun {
  stages: { recipe: Recipe; playbook: string }[];
  inventory: string;
  rolesPath: string[];
  collectionsPath: string[];
  log: WriteStream;
  signal?: AbortSignal;
  say: (line: string) => void;
  runPlaybook: VerifyDeps['runPlaybook'];
  secrets: Map<string, SecretValues>;
}

/** One ansible-playbook run per recipe of the chain, in order; stops at the first that fails. */
async function provisionChain(run: ChainRun, pass: string): Promise<StageRun[]> {
  const runs: StageRun[] = [];
  for (const stage of run.stages) {
    if (run.signal?.aborted) break;
    run.say(`${pass} ${stage.recipe.name} (${stage.recipe.roles.map((r) => r.name).join(', ') || 'no roles'})`);
    const play = (secretsFile?: string) =>
      run.runPlaybook({
        playbook: stage.playbook,
        inventory: run.inventory,
        extraVars: playbookExtraVars(stage.recipe),
        secretsFile,
        rolesPath: run.rolesPath,
        collectionsPath: run.collectionsPath,
        keepEnv: stage.recipe.ansibleEnv,
        log: run.log,
        signal: run.signal,
        onChanged: (task) => run.say(`  changed: ${task}`),
      });
    const values = run.secrets.get(stage.recipe.name);
    const result = values ? await withSecretsFile(values, play) : await play();
    const stageResult = stageRun(stage.recipe.name, result);
    runs.push(stageResult);
    run.say(`  ${stage.recipe.name}: ${stageSummary(stageResult)}`);
    for (const failure of stageResult.failed_tasks) run.say(`  failed: ${failure.task}: ${failure.message}`);
    // A failure outside any task (a syntax error, a missing role): Ansible's last words say which.
    if (stageResult.status === 'failed' && stageResult.failed_tasks.length === 0)
      for (const line of result.tail.slice(-5)) run.say(`  ${line}`);
    if (stageResult.status !== 'ok') break;
  }
  return runs;
}

function chainComplete(runs: readonly StageRun[], chainLength: number): boolean {
  return runs.length === chainLength && runs.every((run) => run.status === 'ok');
}

/** Passed only when the whole chain ran, the second run (if asked) changed nothing and no check failed. */
export function verdict(
  report: Pick<VerifyReport, 'provision' | 'idempotence' | 'checks'>,
  chainLength: number,
  interrupted: boolean,
): VerifyReport['status'] {
  if (interrupted) return 'interrupted';
  return chainComplete(report.provision, chainLength) &&
    (report.idempotence?.passed ?? true) &&
    report.checks.every((check) => check.status !== 'failed')
    ? 'passed'
    : 'failed';
}

function stageRun(recipe: string, result: PlaybookResult): StageRun {
  const status = result.interrupted ? 'interrupted' : result.exitCode === 0 ? 'ok' : 'failed';
  return {
    recipe,
    status,
    changed: result.counts?.changed ?? result.changedTasks.length,
    ok: result.counts?.ok ?? 0,
    changed_tasks: result.changedTasks,
    failed_tasks: result.failedTasks,
    duration_s: seconds(result.durationMs),
  };
}

function stageSummary(run: StageRun): string {
  const counts = `${run.changed} changed, ${run.ok} ok in ${run.duration_s} s`;
  return run.status === 'ok' ? counts : `${run.status.toUpperCase()} (${counts})`;
}

async function readRecord(file: string): Promise<ProvisionRecord | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ProvisionRecord;
  } catch {
    return undefined;
  }
}

/**
 * `--destroy`: the named kept instances (none named = every one of the bakery), stopped and
 * removed with all their state. Returns the names that had something to remove.
 */
export async function destroyVerifyInstances(
  bakeryRoot: string,
  names: readonly string[],
  deps: Pick<VerifyDeps, 'instance'>,
): Promise<string[]> {
  const all = names.length > 0 ? [...names] : await keptNames(bakeryRoot);
  const removed: string[] = [];
  for (const name of all) {
    const stateDir = verifyStateDir(bakeryRoot, name);
    if (!existsSync(stateDir)) continue;
    const done = await withRecipeLock(bakeryRoot, name, () => deps.instance(name, stateDir).destroy());
    if (done) removed.push(name);
  }
  return removed;
}

async function keptNames(bakeryRoot: string): Promise<string[]> {
  const entries = await readdir(verifyRoot(bakeryRoot), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isDirectory() && SAFE_NAME.test(entry.name))
    .map((entry) => entry.name)
    .sort();
}
