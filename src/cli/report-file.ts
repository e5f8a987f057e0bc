import path from 'node:path';
import { writeFileNoFollow } from '../files/write-private-file.js';
import { renderHtmlReport } from '../report/html-report.js';
import type { ReportModel } from '../report/report-model.js';
import { bakeryInventory } from '../images/inventory-deps.js';
import type { AwsSettings } from '../aws/settings.js';
import type { Bakery, Recipe } from '../recipes/model.js';

export const REPORT_HELP =
  "also write a self-contained HTML report (recipe graph, reasons, timeline, pins, package changes, images' security scans and environments) for Jenkins' HTML publisher";

/**
 * The report's images, environments and security scans: what `bake images` computes, listed once more
 * after the plan or build (so a build's report shows the images it just made and pinned).
 */
export async function reportImages(
  bakery: Bakery,
  recipes: Recipe[],
  aws: AwsSettings,
  now: Date,
): Promise<NonNullable<ReportModel['images']>> {
  return {
    inventory: await bakeryInventory(bakery, recipes, aws, now),
    environments: bakery.config.environments ?? [],
  };
}

export async function writeHtmlReport(file: string, model: ReportModel): Promise<void> {
  // Often a path in /tmp or a shared workspace: never through a link someone else planted there.
  await writeFileNoFollow(path.resolve(file), renderHtmlReport(model), {
    mode: 0o644,
    what: 'the report',
    createDirectory: true,
  });
}
