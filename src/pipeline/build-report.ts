import type { KeptManifest } from '../sbom/build-manifest.js';
import type { SsmPinResult } from './pin-ssm.js';
/** What `bake build` did, per recipe: the `--json` result, the JUnit file and the summary. */
import type { LaunchTestResult } from '../launch-test/launch-test.js';
import { splitRecipeKey } from '../tags/architecture.js';

export type RecipeBuildStatus = 'built' | 'reused' | 'failed' | 'skipped' | 'aborted';

export interface RecipeBuildResult {
  name: string;
  status: RecipeBuildStatus;
  /** Region → AMI id: the new images (built) or the current ones (reused). */
  amis: Record<string, string>;
  fingerprint: string;
  duration_s: number;
  /** The image's package manifest kept with the logs, and the package changes against the previous one. */
  packages?: KeptManifest;
  /** When its bake (or distribution) started, ISO 8601; absent when it never started. */
  started_at?: string;
  /** Packer's log for this recipe in this run (built, failed, aborted). */
  log?: string;
  /** Why the plan rebuilt it. */
  reasons: string[];
  /** One line: why it failed, was skipped or aborted. */
  error?: string;
  /** The last lines of the log, for a failure. */
  log_tail?: string[];
  /** The new image's launch test (src/launch-test/), or that the recipe opted out. */
  launch_test?: LaunchTestResult | { status: 'off'; reason: string };
}

export interface BuildReport {
  run_id: string;
  recipes: RecipeBuildResult[];
  /** The run was interrupted (SIGINT/SIGTERM): nothing was pinned. */
  interrupted: boolean;
  pin: { status: 'pinned' | 'skipped' | 'failed'; reason?: string; files?: unknown; parameters?: SsmPinResult[] };
}

/**
 * `bake build --json`: the report, each recipe with its architecture (`arch`, from the name the
 * (recipe, architecture) pair goes by: src/tags/architecture.ts).
 */
export function buildJson(report: BuildReport): unknown {
  return {
    ...report,
    recipes: report.recipes.map((recipe) => ({ ...recipe, arch: splitRecipeKey(recipe.name).architecture })),
  };
}

export function buildSucceeded(report: BuildReport): boolean {
  return (
    !report.interrupted &&
    report.pin.status !== 'failed' &&
    report.recipes.every((r) => r.status === 'built' || r.status === 'reused')
  );
}

/** CONTRACT: 0 when everything was built or reused (and pinned unless --no-pin), 1 otherwise. */
export function buildExitCode(report: BuildReport): 0 | 1 {
  return buildSucceeded(report) ? 0 : 1;
}

/** The closing lines people read: one per recipe, then the verdict. */
export function summaryLines(report: BuildReport): string[] {
  const lines = report.recipes.map((recipe) => {
    const amis = Object.entries(recipe.amis)
      .map(([region, ami]) => `${region} ${ami}`)
      .join(', ');
    const took = recipe.duration_s > 0 ? ` in ${formatDuration(recipe.duration_s)}` : '';
    switch (recipe.status) {
      case 'built':
        return `  built    ${recipe.name}${took}: ${amis}${launchTestNote(recipe)}${packageLine(recipe.packages)}`;
      case 'reused':
        return `  reused   ${recipe.name}: ${amis}`;
      case 'failed':
        return `  FAILED   ${recipe.name}${took}: ${recipe.error ?? ''}${recipe.log ? ` (log: ${recipe.log})` : ''}`;
      case 'aborted':
        return `  aborted  ${recipe.name}${took}${recipe.log ? ` (log: ${recipe.log})` : ''}`;
      case 'skipped':
        return `  skipped  ${recipe.name}: ${recipe.error ?? ''}`;
    }
  });
  const failed = report.recipes.filter((r) => r.status === 'failed').length;
  if (report.interrupted) lines.push('build interrupted: nothing was pinned');
  else if (failed) lines.push(`build failed: ${failed} recipe${failed === 1 ? '' : 's'} failed, nothing was pinned`);
  else if (report.pin.status === 'failed') lines.push(`images built, but pinning failed: ${report.pin.reason ?? ''}`);
  else if (report.pin.status === 'skipped') lines.push(`build done; not pinned (${report.pin.reason ?? ''})`);
  else lines.push('build done; images pinned');
  return lines;
}

/** `; 412 packages (+1 −0 ~3 since the previous manifest: jq 1.6-2.1 added, …)` */
function packageLine(manifest: KeptManifest | undefined): string {
  if (!manifest) return '';
  if (!manifest.changes) return `\n           ${manifest.packages} packages (manifest ${manifest.sbom})`;
  const { added, removed, changed } = manifest.changes;
  const words = [
    ...added.map((p) => `+${p.name} ${p.version}`),
    ...removed.map((p) => `-${p.name} ${p.version}`),
    ...changed.map((p) => `~${p.name} ${p.before} → ${p.after}`),
  ];
  return `\n           ${manifest.packages} packages; since ${manifest.against}: ${words.length ? words.join(', ') : 'no package changed'}`;
}

function launchTestNote(recipe: RecipeBuildResult): string {
  const test = recipe.launch_test;
  if (!test) return '';
  if (test.status === 'off') return ' (no launch test: launch_test: false)';
  return ` (launch test ${test.status}: ${test.checks.length} check${test.checks.length === 1 ? '' : 's'} in ${formatDuration(test.duration_s)})`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(s % 60).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
