/**
 * The launch test's own check after a build with `upgrade: security | all`: the booted image's
 * package manager is asked, as `bake scan` asks it (src/scan/), whether any installed package still
 * has a newer version in the security suite. A rebuild that did not take the fixes fails here
 * instead of being pinned, scanned and rebuilt again in a loop.
 */
import type { Recipe } from '../recipes/model.js';
import type { PendingUpdate } from '../scan/pending-update.js';
import { askPackageManager } from '../scan/scan-image.js';
import { seconds, type CheckResult } from '../verify/check-result.js';
import type { RemoteMachine, SshTarget } from './remote.js';

export const SECURITY_CHECK_NAME = 'no pending security update';

export interface SecurityScanOfTest {
  /** ISO 8601. */
  scanned_at: string;
  pending: PendingUpdate[];
}

export async function securityUpdatesCheck(
  recipe: Recipe,
  ssh: SshTarget,
  deps: { remote: RemoteMachine },
  signal: AbortSignal,
  now: () => number,
): Promise<{ check: CheckResult; scan?: SecurityScanOfTest }> {
  const started = now();
  const where = recipe.locations.upgrade ?? { file: recipe.file, line: 1, col: 1 };
  const base = {
    check: `${SECURITY_CHECK_NAME} (upgrade: ${recipe.upgrade})`,
    kind: 'security-updates' as const,
    location: `${where.file}:${where.line}:${where.col}`,
  };
  try {
    const findings = await askPackageManager(ssh, deps, signal);
    const scan = { scanned_at: new Date(started).toISOString(), pending: findings.pending };
    const duration_s = seconds(now() - started);
    if (findings.pending.length === 0) return { check: { ...base, status: 'passed', output: '', duration_s }, scan };
    const output = findings.pending
      .map((p) => `${p.package} ${p.installed} → ${p.fixed}${p.advisory ? ` (${p.advisory})` : ''}`)
      .join('\n');
    return {
      check: { ...base, status: 'failed', output: `still pending after the upgrade:\n${output}`, duration_s },
      scan,
    };
  } catch (error) {
    return {
      check: { ...base, status: 'failed', output: (error as Error).message, duration_s: seconds(now() - started) },
    };
  }
}
