import { createOutput } from '../io/output.js';
import { versionLines, versionReport } from '../pipeline/version-report.js';

/** `bake --version`: the lines on stdout (they are the answer), exit 0 even without packer. */
export async function printVersion(): Promise<void> {
  const output = createOutput({ json: false });
  output.text(`${versionLines(await versionReport()).join('\n')}\n`);
}
