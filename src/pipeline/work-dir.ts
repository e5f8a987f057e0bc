/**
 * `.bake/work/<run-id>/`: what a build renders for Packer (templates, playbooks, var files with
 * the build's values). Private to the user who runs bake (0700, like .bake/local), and not kept
 * forever: a run whose recipes all succeeded removes its own folder; a failed or interrupted
 * run's folder stays to be looked at and is removed by a later run once it is a day old.
 */
import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

const KEEP_FAILED_RUNS_MS = 24 * 3_600_000;

export function workDirOf(root: string, runId: string): string {
  return path.join(root, '.bake', 'work', runId);
}

/** Makes `.bake/work` private and removes run folders older than a day (other than this run's). */
export async function prepareWorkDir(root: string, runId: string, now: Date): Promise<void> {
  const base = path.dirname(workDirOf(root, runId));
  await mkdir(base, { recursive: true, mode: 0o700 });
  await chmod(base, 0o700);
  for (const name of await readdir(base)) {
    if (name === runId) continue;
    const info = await lstat(path.join(base, name)).catch(() => undefined);
    if (info && now.getTime() - info.mtimeMs > KEEP_FAILED_RUNS_MS)
      await rm(path.join(base, name), { recursive: true, force: true });
  }
}

export async function removeWorkDir(root: string, runId: string): Promise<void> {
  await rm(workDirOf(root, runId), { recursive: true, force: true });
}
