/** The report's model from what plan and build already computed: no extra AWS call. */
import path from 'node:path';
import type { BuildReport } from '../pipeline/build-report.js';
import type { PinFileResult } from '../pipeline/pin.js';
import type { Plan } from '../pipeline/plan.js';
import { buildLevelsOf } from '../pipeline/plan-report.js';
import type { PackageDiff, ReportModel, ReportRecipe } from './report-model.js';

function planRecipes(plan: Plan): ReportRecipe[] {
  const levels = buildLevelsOf(plan);
  const names = new Set(plan.recipes.map((e) => e.name));
  return plan.recipes.map((e) => ({
    name: e.name,
    ...(e.parent && names.has(e.parent) && { parent: e.parent }),
    action: e.action,
    reasons: e.reasons,
    fingerprint: e.fingerprint,
    amis: e.amis,
    ...(levels.has(e.name) && { wave: levels.get(e.name) }),
  }));
}

export function planReportModel(plan: Plan, now: Date, title = 'bake plan'): ReportModel {
  return { kind: 'plan', title, generatedAt: now.toISOString(), recipes: planRecipes(plan), packageDiffs: [] };
}

/** A launch test result as a build result may carry it (`launch_test`: a status string or {status|result, checks}). */
function launchTestOf(result: unknown): ReportRecipe['launchTest'] {
  const value = (result as { launch_test?: unknown }).launch_test;
  if (typeof value === 'string') return { result: value, checks: [] };
  if (!value || typeof value !== 'object') return undefined;
  const v = value as { status?: unknown; result?: unknown; checks?: unknown };
  const checks = Array.isArray(v.checks)
    ? v.checks.map((c: { name?: unknown; check?: unknown; status?: unknown; result?: unknown; ok?: unknown }) => ({
        name: String(c.name ?? c.check ?? ''),
        result: String(c.status ?? c.result ?? (c.ok === undefined ? '' : c.ok ? 'passed' : 'failed')),
      }))
    : [];
  return { result: String(v.status ?? v.result ?? ''), checks };
}

export function buildReportModel(
  plan: Plan,
  report: BuildReport,
  now: Date,
  packageDiffs: PackageDiff[] = [],
  root = process.cwd(),
): ReportModel {
  const fromPlan = new Map(planRecipes(plan).map((r) => [r.name, r]));
  const recipes = report.recipes.map((result): ReportRecipe => {
    const planned = fromPlan.get(result.name);
    const launchTest = launchTestOf(result);
    return {
      name: result.name,
      ...(planned?.parent && { parent: planned.parent }),
      action: result.status,
      reasons: result.reasons,
      fingerprint: result.fingerprint,
      amis: result.amis,
      ...(planned?.wave !== undefined && { wave: planned.wave }),
      ...(result.started_at && { startedAt: result.started_at, durationS: result.duration_s }),
      ...(result.error && { error: result.error }),
      ...(launchTest && { launchTest }),
    };
  });
  const files = Array.isArray(report.pin.files) ? (report.pin.files as PinFileResult[]) : [];
  return {
    kind: 'build',
    title: `bake build ${report.run_id}`,
    generatedAt: now.toISOString(),
    recipes,
    pins: {
      status: report.pin.status,
      ...(report.pin.reason && { reason: report.pin.reason }),
      tfvars: files.map((f) => ({ file: path.relative(root, f.file) || f.file, diff: f.diff })),
      ssm: (report.pin.parameters ?? []).map((p) => ({
        region: p.region,
        parameter: p.parameter,
        ...(p.before && { before: p.before }),
        after: p.ami,
        changed: p.changed,
      })),
    },
    packageDiffs: [
      ...packageDiffs,
      ...report.recipes.flatMap((r): PackageDiff[] =>
        r.packages?.changes
          ? [
              {
                recipe: r.name,
                against: path.relative(root, r.packages.against ?? '') || (r.packages.against ?? ''),
                added: r.packages.changes.added.map((p) => ({ name: p.name, arch: p.arch, after: p.version })),
                removed: r.packages.changes.removed.map((p) => ({ name: p.name, arch: p.arch, before: p.version })),
                changed: r.packages.changes.changed,
              },
            ]
          : [],
      ),
    ],
  };
}
