/** The real Packer binary, as the tests drive it. */
import { writeFile } from 'node:fs/promises';
import { execa } from 'execa';

export const PACKER = process.env.BAKE_TEST_PACKER ?? 'packer';
const env = { CHECKPOINT_DISABLE: '1', PACKER_LOG: '' };

/** `packer validate`: exit code and everything it printed. */
export async function packerValidate(
  template: string,
  varFile?: string,
): Promise<{ exitCode: number; output: string }> {
  const args = ['validate', ...(varFile ? [`-var-file=${varFile}`] : []), template];
  const result = await execa(PACKER, args, { reject: false, all: true, env });
  return { exitCode: result.exitCode ?? -1, output: result.all ?? '' };
}

/** Packer's own evaluation of an expression in a template's context (`packer console`), JSON-decoded. */
export async function packerEvaluate(template: string, expression: string, varFile?: string): Promise<unknown> {
  const args = ['console', ...(varFile ? [`-var-file=${varFile}`] : []), template];
  const result = await execa(PACKER, args, { input: `jsonencode(${expression})\n`, all: true, env });
  return JSON.parse(result.stdout.trim());
}

/**
 * Writes a template that builds nothing (a null source without a communicator) around the given
 * declarations (locals, variables), so that `packer console` evaluates them as Packer would in a
 * real template.
 */
export async function writeNullTemplate(file: string, declarations: string): Promise<string> {
  await writeFile(
    file,
    `${declarations}\nsource "null" "values" {\n  communicator = "none"\n}\nbuild {\n  sources = ["source.null.values"]\n}\n`,
  );
  return file;
}
