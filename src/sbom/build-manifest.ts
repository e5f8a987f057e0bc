/**
 * After a bake: the package manifest Ansible left beside the playbook is kept with the build's
 * logs (`.bake/logs/<run>/<recipe>.cdx.json`, which Jenkins archives), and compared with the
 * newest manifest of the same recipe from an earlier run in `.bake/logs/`, the image it replaces.
 */
import { copyFile, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { packageChanges, packagesFromSbom, type PackageChanges } from './package-manifest.js';

export const MANIFEST_FILE = 'packages.cdx.json';

export interface KeptManifest {
  /** The manifest kept with the logs. */
  sbom: string;
  packages: number;
  /** The earlier manifest compared against, and what changed since. */
  against?: string;
  changes?: PackageChanges;
}

/** Before a bake: a manifest left from an earlier bake in the same folder must not pass for this one's. */
export async function clearPackageManifest(renderDir: string): Promise<void> {
  await rm(path.join(renderDir, MANIFEST_FILE), { force: true });
}

export async function keepPackageManifest(
  renderDir: string,
  logsRoot: string,
  runId: string,
  recipe: string,
): Promise<KeptManifest | undefined> {
  const made = path.join(renderDir, MANIFEST_FILE);
  if (!(await stat(made).catch(() => undefined))?.isFile()) return undefined;
  const kept = path.join(logsRoot, runId, `${recipe}.cdx.json`);
  await copyFile(made, kept);
  const packages = packagesFromSbom(await readFile(kept, 'utf8'), kept);
  const previous = await previousManifest(logsRoot, runId, recipe);
  if (!previous) return { sbom: kept, packages: packages.length };
  const before = packagesFromSbom(await readFile(previous, 'utf8'), previous);
  return { sbom: kept, packages: packages.length, against: previous, changes: packageChanges(before, packages) };
}

/** Run ids sort by time (`YYYYMMDD-HHMMSS-…`): the newest earlier run that kept this recipe's manifest. */
async function previousManifest(logsRoot: string, runId: string, recipe: string): Promise<string | undefined> {
  const runs = (await readdir(logsRoot).catch(() => [] as string[]))
    .filter((run) => run !== runId && run < runId)
    .sort()
    .reverse();
  for (const run of runs) {
    const file = path.join(logsRoot, run, `${recipe}.cdx.json`);
    if ((await stat(file).catch(() => undefined))?.isFile()) return file;
  }
  return undefined;
}
