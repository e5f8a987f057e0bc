/**
 * One verify check's outcome, read from a run of the generated verify script holding that
 * check alone (src/packer/verify-script.ts, the script Packer runs at the end of every build).
 */
import { CHECK_FAILED, SOME_CHECKS_FAILED, describeCheck } from '../packer/verify-script.js';
import type { VerifyCheck } from '../recipes/model.js';

export interface CheckResult {
  /** As the verify script names it, e.g. `package installed: nginx-light`. */
  check: string;
  /** `security-updates`: the launch test's own check after an `upgrade:` build (src/launch-test/security-check.ts). */
  kind: VerifyCheck['kind'] | 'security-updates';
  status: 'passed' | 'failed';
  /** What the check printed when it failed (or what ssh said). */
  output: string;
  duration_s: number;
  /** Where the check is written: `file:line:col`. */
  location: string;
}

/** How one script run ended: ssh's exit code (255 = ssh itself failed) and its error stream. */
export interface ScriptRun {
  exitCode: number;
  stderr: string;
  durationMs: number;
}

export function checkResult(check: VerifyCheck, run: ScriptRun): CheckResult {
  const description = describeCheck(check);
  const base = {
    check: description,
    kind: check.kind,
    duration_s: seconds(run.durationMs),
    location: locationText(check),
  };
  if (run.exitCode === 0) return { ...base, status: 'passed', output: '' };
  // The script frames a failure as: its FAILED line, the check's own output, the closing line.
  let output = run.stderr;
  const head = `${CHECK_FAILED}${description}\n`;
  if (output.startsWith(head)) output = output.slice(head.length);
  const tail = `${SOME_CHECKS_FAILED}\n`;
  if (output.endsWith(tail)) output = output.slice(0, -tail.length);
  if (run.exitCode === 255) output = `ssh failed: ${output}`;
  return { ...base, status: 'failed', output: output.trim() };
}

function locationText(check: VerifyCheck): string {
  return `${check.location.file}:${check.location.line}:${check.location.col}`;
}

export function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
