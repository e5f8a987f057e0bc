/**
 * `bake pin`: write each recipe's AMI ids into the tfvars targets its recipe names. Edits are
 * grouped per file (several recipes may pin into one), each file is read once and changed
 * under a lock file, so two Jenkins jobs pinning into one file never lose an update.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { CloudError, TfvarsError } from '../errors/index.js';
import { withFileLock } from '../files/lock-file.js';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { resolveContained } from '../files/contained-path.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { editTfvars, isJsonTfvars, type PinEdit } from '../tfvars/edit-tfvars.js';
import { AMI_ID, readTfvars } from '../tfvars/pinned-values.js';
import { unifiedDiff } from './pin-diff.js';

export interface PinRequest {
  recipe: Recipe;
  /** region → AMI id */
  amis: Record<string, string>;
}

export interface PinFileResult {
  file: string;
  changed: boolean;
  /** Unified diff of the change ('' when unchanged), for `bake pin --check`. */
  diff: string;
  edits: PinEdit[];
}

/** The first lines of a tfvars file bake creates. */
export const NEW_HCL_FILE_HEADER =
  '# AMI ids pinned by `bake pin`. bake rewrites only the values it pins;\n' +
  '# comments, layout and other variables in this file are kept.\n';

/** What each recipe's pin targets ask for, per file in first-seen order. */
export function pinEditsByFile(requests: PinRequest[]): Map<string, PinEdit[]> {
  const byFile = new Map<string, PinEdit[]>();
  for (const { recipe, amis } of requests) {
    const amiIn = (region: string, file: string, variable: string): string => {
      const ami = amis[region];
      if (ami === undefined) {
        throw new CloudError(`${recipe.name}: no AMI in ${region} to pin into ${file} (${variable}); build it first`);
      }
      if (!AMI_ID.test(ami)) {
        throw new TfvarsError(`refusing to pin ${JSON.stringify(ami)} into ${variable}: not an AMI id`, file);
      }
      return ami;
    };
    for (const target of recipe.pin) {
      const edits = byFile.get(target.file) ?? [];
      byFile.set(target.file, edits);
      const first = recipe.regions[0];
      if (target.key !== undefined) {
        edits.push({ variable: target.variable, key: target.key, value: amiIn(first, target.file, target.variable) });
      } else if (target.format === 'string') {
        edits.push({ variable: target.variable, value: amiIn(first, target.file, target.variable) });
      } else {
        for (const region of recipe.regions) {
          edits.push({ variable: target.variable, key: region, value: amiIn(region, target.file, target.variable) });
        }
      }
    }
  }
  return byFile;
}

export interface PinOptions {
  check: boolean;
  /** Folders pin may write into: the bakery root and its config's pin_roots. */
  roots: readonly string[];
}

/** The folders a bakery's pin targets must resolve into. */
export function pinRootsOf(bakery: Bakery): string[] {
  return [bakery.root, ...bakery.config.pinRoots];
}

export async function pinImages(requests: PinRequest[], options: PinOptions): Promise<PinFileResult[]> {
  const results: PinFileResult[] = [];
  for (const [file, edits] of pinEditsByFile(requests)) {
    // Checked again here (loading checked it too): a link may have been planted since.
    const real = await containedTarget(file, options.roots);
    await requireDirectory(real);
    const pinOne = () => pinFile(real, edits, options.check);
    try {
      results.push(options.check ? await pinOne() : await withFileLock(file, pinOne));
    } catch (error) {
      throw asTfvarsError(file, error);
    }
  }
  return results;
}

/** A file system refusal (permissions, read-only mount) is the user's to fix: one line. */
function asTfvarsError(file: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (!code || !['EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENOTDIR', 'ENOSPC'].includes(code)) return error;
  return new TfvarsError(`cannot update this file (${code}: ${(error as Error).message})`, file);
}

async function containedTarget(file: string, roots: readonly string[]): Promise<string> {
  const where = await resolveContained(file, roots);
  if (!where.inside)
    throw new TfvarsError(
      `${where.reason}: bake pins only inside the bakery or its pin_roots (bake.config.yaml)`,
      file,
    );
  return where.real;
}

async function pinFile(file: string, edits: PinEdit[], check: boolean): Promise<PinFileResult> {
  const before = await readTfvars(file);
  if (before !== undefined && !check) await requireWritable(file);
  const start = before ?? (isJsonTfvars(file) ? '{}\n' : NEW_HCL_FILE_HEADER);
  const edited = await editTfvars(file, start, edits);
  const changed = before === undefined || edited.changed;
  if (changed && !check) await writeFileAtomic(file, edited.text);
  return { file, changed, diff: changed ? unifiedDiff(diffLabel(file), before, edited.text) : '', edits };
}

async function requireWritable(file: string): Promise<void> {
  const info = await stat(file);
  if ((info.mode & 0o222) === 0)
    throw new TfvarsError(
      'is read-only; bake does not replace a read-only file (make it writable to let bake pin into it)',
      file,
    );
}

async function requireDirectory(file: string): Promise<void> {
  const dir = path.dirname(file);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new TfvarsError(`directory ${dir} does not exist; create it or fix the recipe's pin target`, file);
  }
}

function diffLabel(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}
