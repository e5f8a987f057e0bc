/**
 * A launch test: boot the image Packer just made, with the recipe's test user-data, as a downstream
 * stack would; wait for SSH and for cloud-init; run the recipe's verify checks and the test's own
 * checks on the booted machine; then remove the instance and everything made for it, whatever
 * happened (pass, failure, timeout, interrupt). One code path for AWS and the local cloud: both are
 * reached through the EC2 API (src/aws/test-instance.ts) and SSH (./remote.ts).
 */
import type { Bakery, Recipe, VerifyCheck } from '../recipes/model.js';
import { checkResult, seconds, type CheckResult } from '../verify/check-result.js';
import type { CloudInitOutcome } from './remote.js';
import { TestMachine, type LaunchTestTarget, type TestMachineDeps } from './test-machine.js';
import { renderUserData } from './user-data.js';
import { securityUpdatesCheck, type SecurityScanOfTest } from './security-check.js';

export type { LaunchTestTarget };

export type LaunchTestDeps = TestMachineDeps;

export interface LaunchTestRequest {
  bakery: Bakery;
  recipe: Recipe;
  region: string;
  imageId: string;
  target: LaunchTestTarget;
  /** SIGINT/SIGTERM of the build: stop, clean up, report interrupted. */
  signal?: AbortSignal;
  log(line: string): Promise<void> | void;
}

export type LaunchTestStatus = 'passed' | 'failed' | 'interrupted';

export interface LaunchTestResult {
  status: LaunchTestStatus;
  image: string;
  region: string;
  instance_id?: string;
  instance_type: string;
  /** The user_data templates given to the instance. */
  user_data: string[];
  cloud_init: { status: CloudInitOutcome['status'] | 'not reached'; output: string };
  checks: CheckResult[];
  /** One line: why it failed or stopped. */
  error?: string;
  duration_s: number;
  /** Things made for the test that could not be removed (an instance, a security group, a key pair). */
  cleanup_problems: string[];
  /** After an `upgrade:` build: what the image's package manager still had pending in the security suite. */
  security_scan?: SecurityScanOfTest;
}

/** The checks of a launch test: the recipe's verify checks, then the test's own. */
export function launchTestChecks(recipe: Recipe): VerifyCheck[] {
  return [...recipe.verify, ...(recipe.launchTest?.checks ?? [])];
}

export function launchTestEnabled(recipe: Recipe): boolean {
  return Boolean(recipe.launchTest?.enabled);
}

export async function runLaunchTest(request: LaunchTestRequest, deps: LaunchTestDeps): Promise<LaunchTestResult> {
  const { recipe, region, imageId, target } = request;
  const spec = recipe.launchTest!;
  const started = deps.now();
  const instanceType = spec.instanceType ?? recipe.instanceType;
  const result: LaunchTestResult = {
    status: 'failed',
    image: imageId,
    region,
    instance_type: instanceType,
    user_data: spec.userData.map((use) => use.template),
    cloud_init: { status: 'not reached', output: '' },
    checks: [],
    duration_s: 0,
    cleanup_problems: [],
  };
  const log = (line: string) => request.log(`launch test: ${line}`);
  // Rendered before anything costs money: a template error fails here, with its file:line.
  const userData = await renderUserData(request.bakery, recipe, spec.userData);

  const timeout = AbortSignal.timeout(spec.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const why = () => (request.signal?.aborted ? 'interrupted' : `timed out after ${formatMs(spec.timeoutMs)}`);
  const machine = await TestMachine.open(deps, region);
  try {
    await log(
      `launching ${instanceType} from ${imageId} in ${region}${result.user_data.length ? ` with user-data ${result.user_data.join(', ')}` : ''}`,
    );
    const booted = await machine.boot(
      {
        region,
        imageId,
        recipe: recipe.name,
        sshUsername: recipe.sshUsername,
        subnetId: recipe.subnetId,
        instanceType,
        userData,
        target,
        signal,
        maxWaitSeconds: Math.ceil(spec.timeoutMs / 1000),
        ...(recipe.localMachine && { localMachine: recipe.localMachine }),
      },
      (instanceId) => (result.instance_id = instanceId),
    );
    const ssh = booted.ssh;
    await log(`${booted.instanceId} is running at ${booted.address}; waiting for SSH`);
    await machine.waitForSsh(booted, deps.remote, signal);
    await log('SSH is up; waiting for cloud-init (cloud-init status --wait)');
    const cloudInit = await deps.remote.cloudInit(ssh, signal);
    result.cloud_init = cloudInit;
    for (const line of cloudInit.output.split('\n').filter(Boolean)) await log(`  ${line}`);
    if (cloudInit.status === 'error') {
      result.error = `cloud-init reported an error on ${booted.instanceId}`;
      return result;
    }
    if (cloudInit.status === 'absent' && spec.userData.length > 0) {
      result.error = `the image has no cloud-init, so the test's user-data cannot apply`;
      return result;
    }

    for (const check of launchTestChecks(recipe)) {
      if (signal.aborted) break;
      const outcome = checkResult(check, await deps.remote.runCheck(ssh, check, signal));
      result.checks.push(outcome);
      await log(`${outcome.status === 'passed' ? 'ok' : 'FAILED'}: ${outcome.check}`);
      for (const line of outcome.output.split('\n').filter(Boolean)) await log(`  ${line}`);
    }
    // After an upgrade, nothing may be pending: otherwise the next scan would ask for the same rebuild again.
    if (recipe.upgrade && !signal.aborted) {
      const { check, scan } = await securityUpdatesCheck(recipe, ssh, deps, signal, deps.now);
      result.checks.push(check);
      result.security_scan = scan;
      await log(`${check.status === 'passed' ? 'ok' : 'FAILED'}: ${check.check}`);
      for (const line of check.output.split('\n').filter(Boolean)) await log(`  ${line}`);
    }
    if (signal.aborted) throw new Error(why());
    const failed = result.checks.filter((c) => c.status === 'failed');
    if (failed.length)
      result.error = `${failed.length} of ${result.checks.length} checks failed on the booted instance: ${failed.map((c) => c.check).join('; ')}`;
    else result.status = 'passed';
    return result;
  } catch (error) {
    if (request.signal?.aborted) {
      result.status = 'interrupted';
      result.error = 'launch test interrupted';
    } else {
      result.error = timeout.aborted
        ? `launch test ${why()}`
        : `launch test stopped: ${(error as Error).message.split('\n')[0]}`;
    }
    if (result.instance_id && result.cloud_init.status === 'not reached') {
      const console = await machine.session.consoleOutput();
      const tail = console.trim().split('\n').slice(-20);
      if (tail.length && tail[0]) {
        await log(`console output of ${result.instance_id} (last lines):`);
        for (const line of tail) await log(`  ${line}`);
      }
    }
    return result;
  } finally {
    await log(`removing ${machine.describeMade()}`);
    result.cleanup_problems = await machine.close();
    for (const problem of result.cleanup_problems) await log(`LEFT BEHIND: ${problem}`);
    result.duration_s = seconds(deps.now() - started);
    await log(`${result.status} in ${result.duration_s} s${result.error ? `: ${result.error}` : ''}`);
  }
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}
