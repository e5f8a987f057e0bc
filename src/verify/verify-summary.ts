/** The closing lines of `bake verify`: per recipe a verdict, then one line per check. */
import type { VerifyReport } from './verify-recipe.js';

export function verifySummaryLines(reports: readonly VerifyReport[]): string[] {
  const lines: string[] = [];
  for (const report of reports) {
    const provisioned = report.provision
      .map((run) => `${run.recipe} (${run.status === 'ok' ? `${run.changed} changed` : run.status})`)
      .join(', ');
    const passedChecks = report.checks.filter((check) => check.status === 'passed').length;
    lines.push(
      `${report.name}: ${report.status.toUpperCase()} in ${report.duration_s} s — provisioned ${provisioned || 'nothing'}; ${passedChecks}/${report.checks.length} checks passed`,
    );
    for (const run of report.provision) {
      for (const failure of run.failed_tasks)
        lines.push(`  provisioning ${run.recipe} failed at ${failure.task}: ${firstLine(failure.message)}`);
      if (run.status === 'failed' && run.failed_tasks.length === 0)
        lines.push(`  provisioning ${run.recipe} failed; see ${report.log}`);
    }
    if (report.idempotence && !report.idempotence.passed) {
      lines.push(
        report.idempotence.changed > 0
          ? `  not idempotent: the second run changed ${report.idempotence.changed} (${report.idempotence.changed_tasks.join('; ')})`
          : '  the second run did not complete',
      );
    }
    for (const check of report.checks) {
      const mark = check.status === 'passed' ? 'ok    ' : 'FAILED';
      lines.push(`  ${mark} ${check.check}${check.status === 'failed' ? `  (${check.location})` : ''}`);
      if (check.status !== 'passed' && check.output)
        for (const line of check.output.split('\n').slice(0, 10)) lines.push(`          ${line}`);
    }
  }
  return lines;
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}
