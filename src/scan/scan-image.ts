/**
 * A security scan of one image: boot it as its launch test does (src/launch-test/test-machine.ts:
 * temporary key pair and security group, IMDSv2, cleanup whatever happens), wait for cloud-init so
 * apt is free, run the fixed scan script (./security-script.ts) and read the image's own SBOM.
 * Nothing in the image changes; the instance is gone when this returns.
 */
import { IMAGE_SBOM_PATH, packagesFromSbom } from '../sbom/package-manifest.js';
import { TestMachine, type LaunchTestTarget, type TestMachineDeps } from '../launch-test/test-machine.js';
import type { SshTarget } from '../launch-test/remote.js';
import { seconds } from '../verify/check-result.js';
import { parseScanOutput, type PendingUpdate, type ScanFindings } from './scan-output.js';
import { SCAN_NO_SECURITY_SOURCES, SCAN_UNSUPPORTED, SECURITY_SCAN_SCRIPT } from './security-script.js';

export interface ImageScanRequest {
  recipe: string;
  sshUsername: string;
  subnetId?: string;
  instanceType: string;
  region: string;
  imageId: string;
  target: LaunchTestTarget;
  /** From RunInstances to the end of the scan. */
  timeoutMs: number;
  signal?: AbortSignal;
  log(line: string): Promise<void> | void;
}

export type ImageScanStatus = 'scanned' | 'failed' | 'interrupted';

export interface ImageScanResult {
  recipe: string;
  region: string;
  image: string;
  status: ImageScanStatus;
  /** ISO 8601: when the package manager was asked. */
  scanned_at: string;
  manager?: ScanFindings['manager'];
  sources: string[];
  warnings: string[];
  pending: PendingUpdate[];
  /** The image's own CycloneDX SBOM: its package count; its text travels separately (`sbom`). */
  sbom_packages?: number;
  error?: string;
  instance_id?: string;
  duration_s: number;
  cleanup_problems: string[];
}

export interface ImageScanOutcome {
  result: ImageScanResult;
  /** The SBOM text as the image holds it, when it has one. */
  sbom?: string;
}

/** Fixed text: the image's SBOM, or nothing when it has none (made before bake wrote one). */
const READ_SBOM_SCRIPT = `if [ -f ${IMAGE_SBOM_PATH} ]; then cat ${IMAGE_SBOM_PATH}; else exit 3; fi\n`;

export async function scanImage(request: ImageScanRequest, deps: TestMachineDeps): Promise<ImageScanOutcome> {
  const started = deps.now();
  const result: ImageScanResult = {
    recipe: request.recipe,
    region: request.region,
    image: request.imageId,
    status: 'failed',
    scanned_at: new Date(started).toISOString(),
    sources: [],
    warnings: [],
    pending: [],
    duration_s: 0,
    cleanup_problems: [],
  };
  let sbom: string | undefined;
  const log = (line: string) => request.log(`scan: ${line}`);
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const machine = await TestMachine.open(deps, request.region);
  try {
    await log(`launching ${request.instanceType} from ${request.imageId} in ${request.region}`);
    const booted = await machine.boot(
      {
        region: request.region,
        imageId: request.imageId,
        recipe: request.recipe,
        sshUsername: request.sshUsername,
        subnetId: request.subnetId,
        instanceType: request.instanceType,
        userData: '',
        target: request.target,
        signal,
        maxWaitSeconds: Math.ceil(request.timeoutMs / 1000),
      },
      (instanceId) => (result.instance_id = instanceId),
    );
    await log(`${booted.instanceId} is running at ${booted.address}; waiting for SSH`);
    await machine.waitForSsh(booted, deps.remote, signal);
    // cloud-init may hold apt's locks on first boot; its outcome does not matter to the scan.
    await deps.remote.cloudInit(booted.ssh, signal);
    result.scanned_at = new Date(deps.now()).toISOString();
    const findings = await askPackageManager(booted.ssh, deps, signal);
    Object.assign(result, findings);
    for (const warning of findings.warnings) await log(`warning: ${warning}`);
    sbom = await readSbom(booted.ssh, deps, signal);
    if (sbom !== undefined) {
      try {
        result.sbom_packages = packagesFromSbom(sbom, IMAGE_SBOM_PATH).length;
      } catch (error) {
        await log(`the image's SBOM is unreadable: ${(error as Error).message}`);
        sbom = undefined;
      }
    } else await log(`the image has no ${IMAGE_SBOM_PATH}`);
    result.status = 'scanned';
    await log(
      result.pending.length
        ? `${result.pending.length} pending security update(s): ${result.pending.map((p) => `${p.package} ${p.installed} → ${p.fixed}`).join(', ')}`
        : 'no pending security update',
    );
  } catch (error) {
    if (request.signal?.aborted) {
      result.status = 'interrupted';
      result.error = 'scan interrupted';
    } else {
      result.error = timeout.aborted
        ? `scan timed out after ${Math.round(request.timeoutMs / 1000)} s`
        : (error as Error).message.split('\n')[0];
    }
  } finally {
    await log(`removing ${machine.describeMade()}`);
    result.cleanup_problems = await machine.close();
    for (const problem of result.cleanup_problems) await log(`LEFT BEHIND: ${problem}`);
    result.duration_s = seconds(deps.now() - started);
    await log(`${result.status} in ${result.duration_s} s${result.error ? `: ${result.error}` : ''}`);
  }
  return { result, ...(sbom !== undefined && { sbom }) };
}

/** Runs the scan script as root on the machine and reads its answer. */
export async function askPackageManager(
  ssh: SshTarget,
  deps: Pick<TestMachineDeps, 'remote'>,
  signal: AbortSignal,
): Promise<ScanFindings> {
  const run = await deps.remote.runScript(ssh, SECURITY_SCAN_SCRIPT, signal);
  const tail = (text: string) =>
    text
      .trim()
      .split('\n')
      .filter((line) => line.trim())
      .slice(-3)
      .map((line) => line.replace(/^bake-scan: /, ''))
      .join('; ');
  if (run.exitCode === SCAN_UNSUPPORTED) throw new Error('the image has neither apt nor dnf/yum');
  if (run.exitCode === SCAN_NO_SECURITY_SOURCES) throw new Error("the image's apt sources name no security suite");
  if (run.exitCode === 255) throw new Error(`ssh failed: ${tail(run.stderr)}`);
  if (run.exitCode !== 0) throw new Error(`the package manager failed: ${tail(run.stdout) || tail(run.stderr)}`);
  return parseScanOutput(run.stdout);
}

async function readSbom(ssh: SshTarget, deps: TestMachineDeps, signal: AbortSignal): Promise<string | undefined> {
  const run = await deps.remote.runScript(ssh, READ_SBOM_SCRIPT, signal);
  if (run.exitCode === 3) return undefined;
  if (run.exitCode !== 0) throw new Error(`reading ${IMAGE_SBOM_PATH} failed: ${run.stderr.trim().split('\n').pop()}`);
  return run.stdout;
}
