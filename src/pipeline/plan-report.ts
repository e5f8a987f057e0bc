/** How a plan reads: a few lines per recipe for people, and the `bake plan --json` document. */
import { RecipeGraph } from '../recipes/graph.js';
import type { ChangedSince } from './changed-since.js';
import type { Plan } from './plan.js';
import { architectureOfRecipe } from '../recipes/architectures.js';
import { majorMinor } from '../release/installed-package.js';

export function planLines(plan: Plan): string[] {
  const lines: string[] = [];
  for (const entry of plan.recipes) {
    if (entry.action === 'reuse') {
      const images = Object.entries(entry.amis).map(([region, ami]) => `${ami} (${region})`);
      lines.push(`${entry.name}: reuse ${images.join(', ')}`);
      if (entry.security) lines.push(`  ${entry.security.note}`);
    } else if (entry.awaitingLaunchTest) {
      lines.push(`${entry.name}: test (awaiting its launch test)`);
      for (const reason of entry.reasons) lines.push(`  ${reason}`);
    } else {
      lines.push(`${entry.name}: build`);
      for (const reason of entry.reasons) lines.push(`  ${reason}`);
      if (entry.recipe.launchTest && !entry.recipe.launchTest.enabled && !entry.distributeOnly)
        lines.push('  no launch test (launch_test: false)');
    }
  }
  const building = plan.recipes.filter((e) => e.action === 'build').length;
  lines.push(`${building} to build, ${plan.recipes.length - building} to reuse`);
  return lines;
}

/**
 * Said once, before the plan's lines, when an upgrade of bake changed the templates it generates
 * (the generator version is part of every fingerprint): otherwise the first sign would be every
 * recipe listed for a rebuild, which on AWS is hours of bakes.
 */
export function generatorChangeNote(plan: Plan, bakeVersion: string): string | undefined {
  if (!plan.generatorChanged) return undefined;
  return `bake ${majorMinor(bakeVersion)} changed the generated templates: every recipe rebuilds; see CHANGELOG`;
}

/**
 * The build waves: a recipe to build waits for its parent only when that parent is built in
 * the same plan. Level 0 starts at once; CI runs one parallel stage per level (Jenkinsfile).
 */
export function buildLevelsOf(plan: Plan): Map<string, number> {
  const toBuild = RecipeGraph.over(
    plan.recipes.filter((entry) => entry.action === 'build'),
    (entry) => entry.parent,
  );
  return new Map(toBuild.recipes.map((entry) => [entry.name, toBuild.depthOf(entry.name)]));
}

/**
 * `{"recipes": [{name, action, reasons, fingerprint, amis, inputs, baseAmi, level, ...}]}` (the CLI contract
 * in the README); `level` only on recipes to build; `changed_since` when asked with --changed-since.
 */
export function planJson(plan: Plan, changes?: ChangedSince): unknown {
  const levels = buildLevelsOf(plan);
  return {
    ...(changes && {
      changed_since: { ref: changes.ref, commit: changes.commit, recipes: Object.fromEntries(changes.changed) },
    }),
    recipes: plan.recipes.map((e) => ({
      name: e.name,
      arch: architectureOfRecipe(e.recipe),
      action: e.action,
      reasons: e.reasons,
      fingerprint: e.fingerprint,
      amis: e.amis,
      inputs: e.inputs,
      base_ami: e.baseAmi,
      ...(e.parent ? { parent: e.parent } : {}),
      build_region: e.recipe.regions[0],
      missing_regions: e.missingRegions,
      ...(e.unsettledRegions.length ? { unsettled_regions: e.unsettledRegions } : {}),
      ...(e.distributeOnly ? { distribute_only: { region: e.distributeOnly.region, ami: e.distributeOnly.ami } } : {}),
      ...(e.awaitingLaunchTest && {
        awaiting_launch_test: { region: e.awaitingLaunchTest.region, ami: e.awaitingLaunchTest.ami },
      }),
      ...(e.untestedParent && {
        untested_parent: {
          recipe: e.untestedParent.recipe,
          region: e.untestedParent.region,
          ami: e.untestedParent.ami,
        },
      }),
      ...(levels.has(e.name) ? { level: levels.get(e.name) } : {}),
      ...(e.recipe.launchTest ? { launch_test: e.recipe.launchTest.enabled } : {}),
      ...(e.security && {
        security: {
          image: e.security.image,
          state: e.security.state,
          ...(e.security.scan && {
            scanned_at: e.security.scan.at,
            pending: e.security.scan.pending,
            ...(e.security.scan.pendingSince && { pending_since: e.security.scan.pendingSince }),
            packages: e.security.scan.packages,
          }),
          note: e.security.note,
        },
      }),
      ...(e.replaces?.length ? { replaces: e.replaces } : {}),
      ...(e.warnings?.length ? { warnings: e.warnings } : {}),
    })),
  };
}

/** 0, or with --detailed-exitcode 2 when something would be built (like terraform plan). */
export function planExitCode(plan: Plan, detailed: boolean): number {
  return detailed && plan.recipes.some((e) => e.action === 'build') ? 2 : 0;
}
