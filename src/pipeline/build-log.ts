/**
 * Each recipe's build log, `.bake/logs/<run-id>/<recipe>.log`: Packer's output (written by the
 * runner) and bake's own `# bake: …` lines, which go through BuildDeps.appendLog like every other
 * effect of a build.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

export function logFileOf(root: string, runId: string, recipe: string): string {
  return path.join(root, '.bake', 'logs', runId, `${recipe}.log`);
}

/** The production BuildDeps.appendLog: creates the run's log folder on first use. */
export async function appendBuildLog(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await appendFile(file, text);
}

/** One recipe's log, as the build steps write to it. */
export interface RecipeLog {
  file: string;
  /** Appends `# bake: <line>`. */
  note(line: string): Promise<void>;
}

export function recipeLog(file: string, appendLog: (file: string, text: string) => Promise<void>): RecipeLog {
  return { file, note: (line) => appendLog(file, `# bake: ${line}\n`) };
}
