/** How a plan reads: a few lines per recipe for people, and the `bake plan --json` document. */
import type { Plan } from './plan.js';

export function planLines(plan: Plan): string[] {
  const lines: string[] = [];
  for (const entry of plan.recipes) {
    if (entry.action === 'reuse') {
      const images = Object.entries(entry.amis).map(([region, ami]) => `${ami} (${region})`);
      lines.push(`${entry.name}: reuse ${images.join(', ')}`);
    } else {
      lines.push(`${entry.name}: build`);
      for (const reason of entry.reasons) lines.push(`  ${reason}`);
    }
  }
  const building = plan.recipes.filter((e) => e.action === 'build').length;
  lines.push(`${building} to build, ${plan.recipes.length - building} to reuse`);
  return lines;
}

/** `{"recipes": [{name, action, reasons, fingerprint, amis, inputs, baseAmi, ...}]}` (DESIGN.md, CLI contract). */
export function planJson(plan: Plan): unknown {
  return {
    recipes: plan.recipes.map((e) => ({
      name: e.name,
      action: e.action,
      reasons: e.reasons,
      fingerprint: e.fingerprint,
      amis: e.amis,
      inputs: e.inputs,
      baseAmi: e.baseAmi,
      ...(e.parent ? { parent: e.parent } : {}),
      missingRegions: e.missingRegions,
    })),
  };
}

/** 0, or with --detailed-exitcode 2 when something would be built (like terraform plan). */
export function planExitCode(plan: Plan, detailed: boolean): number {
  return detailed && plan.recipes.some((e) => e.action === 'build') ? 2 : 0;
}
