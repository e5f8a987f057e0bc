/** What the HTML report shows, gathered from a plan or a build (src/report/report-data.ts). */
import type { Inventory } from '../images/inventory.js';
export type ReportAction = 'build' | 'reuse' | 'built' | 'reused' | 'failed' | 'skipped' | 'aborted';

export interface ReportRecipe {
  name: string;
  /** The recipe it is built FROM, when that recipe is in the report. */
  parent?: string;
  action: ReportAction;
  reasons: string[];
  fingerprint: string;
  amis: Record<string, string>;
  /** The build wave (0 = starts at once), for recipes to build. */
  wave?: number;
  /** ISO 8601 and seconds, for recipes a build started. */
  startedAt?: string;
  durationS?: number;
  error?: string;
  /** Launch test result, when the build ran one. */
  launchTest?: { result: string; checks: Array<{ name: string; result: string }> };
}

export interface PackageChange {
  name: string;
  arch: string;
  before?: string;
  after?: string;
}

export interface PackageDiff {
  recipe: string;
  /** The image whose manifest was compared against (the one being replaced). */
  against: string;
  added: PackageChange[];
  removed: PackageChange[];
  changed: PackageChange[];
}

export interface ReportPins {
  status: string;
  reason?: string;
  /** Unified diffs of the tfvars files pinned. */
  tfvars: Array<{ file: string; diff: string }>;
  ssm: Array<{ region: string; parameter: string; before?: string; after: string; changed: boolean }>;
}

export interface ReportModel {
  kind: 'plan' | 'build';
  title: string;
  generatedAt: string;
  recipes: ReportRecipe[];
  pins?: ReportPins;
  packageDiffs: PackageDiff[];
  /**
   * What `bake images` computes (src/images/inventory.ts), when the command could list the images: each
   * image's last security scan, and with `environments:` in bake.config.yaml the environments view.
   */
  images?: { inventory: Inventory; environments: string[] };
}
