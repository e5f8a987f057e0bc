/** What `bake promote` prints: a line per file, parameter and recipe, the --json document, the exit code. */
import type { PromotionReport } from './promote.js';
import { ssmPinLine } from './pin-ssm.js';
import type { EnvironmentPinResult } from './environment-pins.js';

export function promotionLines(report: PromotionReport, check: boolean, label: (file: string) => string): string[] {
  const lines: string[] = [];
  for (const recipe of report.recipes) {
    if (recipe.status === 'refused') continue;
    for (const file of recipe.files) {
      if (check && file.changed) lines.push(file.diff.trimEnd());
      lines.push(`${label(file.file)}: ${file.changed ? (check ? 'would change' : 'pinned') : 'up to date'}`);
    }
    for (const parameter of recipe.parameters) lines.push(ssmPinLine(parameter, check));
    const ids = Object.entries(recipe.amis)
      .map(([region, ami]) => `${region} ${ami}`)
      .join(', ');
    const verb = { promoted: 'promoted', 'would-promote': 'would promote', 'up-to-date': 'already in' }[recipe.status];
    lines.push(`${recipe.recipe}: ${verb} ${report.from} → ${report.to} (${ids})`);
  }
  return lines;
}

export function promotionJson(report: PromotionReport) {
  return {
    from: report.from,
    to: report.to,
    recipes: report.recipes.map((r) => ({
      name: r.recipe,
      status: r.status.replace(/-/g, '_'),
      amis: r.amis,
      before: r.before,
      ...(r.refusal && { refusal: r.refusal }),
      ...environmentPinJson(r),
    })),
  };
}

/** The files and SSM parameters an environment's pin wrote, as promote's and rollback's --json give them. */
export function environmentPinJson(result: EnvironmentPinResult) {
  return {
    files: result.files.map((f) => ({ file: f.file, changed: f.changed })),
    parameters: result.parameters.map((p) => ({
      region: p.region,
      parameter: p.parameter,
      ami: p.ami,
      changed: p.changed,
      ...(p.before !== undefined && { before: p.before }),
    })),
  };
}

/** 1 when a recipe was refused; with --check, 2 when something would change; else 0. */
export function promotionExitCode(report: PromotionReport, check: boolean): number {
  if (report.recipes.some((r) => r.status === 'refused')) return 1;
  return check && report.recipes.some((r) => r.status === 'would-promote') ? 2 : 0;
}
