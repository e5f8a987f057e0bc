import path from 'node:path';
import { writeFileNoFollow } from '../files/write-private-file.js';
import { renderHtmlReport } from '../report/html-report.js';
import type { ReportModel } from '../report/report-model.js';

export const REPORT_HELP =
  "also write a self-contained HTML report (recipe graph, reasons, timeline, pins, package changes) for Jenkins' HTML publisher";

export async function writeHtmlReport(file: string, model: ReportModel): Promise<void> {
  // Often a path in /tmp or a shared workspace: never through a link someone else planted there.
  await writeFileNoFollow(path.resolve(file), renderHtmlReport(model), {
    mode: 0o644,
    what: 'the report',
    createDirectory: true,
  });
}
