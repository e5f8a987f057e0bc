import path from 'node:path';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { renderHtmlReport } from '../report/html-report.js';
import type { ReportModel } from '../report/report-model.js';

export const REPORT_HELP =
  "also write a self-contained HTML report (recipe graph, reasons, timeline, pins, package changes) for Jenkins' HTML publisher";

export async function writeHtmlReport(file: string, model: ReportModel): Promise<void> {
  await writeFileAtomic(path.resolve(file), renderHtmlReport(model), { createDirectory: true });
}
