/**
 * The cheap part of `bake doctor`, run by `bake build` between the plan and the first Packer: the
 * base images and the permissions the recipes it is about to bake need, each probe sent once per
 * run (EC2 dry runs, reads, iam:SimulatePrincipalPolicy). A denied action stops the build here,
 * named, instead of after twenty minutes of Packer; what cannot be verified is said and does not stop it.
 */
import { CloudError } from '../errors/index.js';
import type { Bakery } from '../recipes/model.js';
import type { BuildPlan } from './build-run.js';
import { runDoctor, type DoctorDeps, type Finding } from './doctor.js';

export interface PreflightResult {
  /** Findings other than "ok": unverified permissions, base image problems the plan let through. */
  findings: Finding[];
  durationMs: number;
}

export async function preflightBuild(
  bakery: Bakery,
  plan: BuildPlan,
  makeDeps: () => DoctorDeps,
  note: (message: string) => void,
): Promise<PreflightResult> {
  const recipes = plan.recipes.filter((entry) => entry.action === 'build').map((entry) => entry.recipe);
  if (recipes.length === 0) return { findings: [], durationMs: 0 };
  const deps = makeDeps();
  try {
    const report = await runDoctor(bakery, recipes, deps, { scope: 'preflight' });
    const denied = report.findings.filter((f) => f.status === 'problem' && f.group === 'permissions');
    if (denied.length)
      throw new CloudError(
        `refusing to start Packer: ${denied.map((f) => `${f.message} (${f.fix})`).join('; ')}; bake doctor tells the rest`,
      );
    const rest = report.findings.filter((f) => f.status !== 'ok');
    for (const f of rest.filter((f) => f.status !== 'note')) note(`permission check: ${f.message}`);
    const unverified = rest.filter((f) => f.status === 'not-verified').length;
    note(
      `permission check of ${recipes.length} recipe${recipes.length === 1 ? '' : 's'}: nothing denied${unverified ? `, ${unverified} not verified` : ''} (${(report.durationMs / 1000).toFixed(1)} s)`,
    );
    return { findings: rest, durationMs: report.durationMs };
  } finally {
    deps.cloud.close();
  }
}
