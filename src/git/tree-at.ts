/**
 * The bakery at a git ref, as `bake plan --changed-since REF` needs it, read from what git
 * already knows: which paths differ between REF and the work tree with their blob ids at REF
 * (`git diff --raw`), all of REF's blob ids (`git ls-tree`, src/fingerprint/history.ts) and, only when a file that
 * loading reads has changed, those few files' text (`git cat-file --batch`). Nothing else of
 * REF's tree is written anywhere; nothing in the clone is touched. Paths are relative to the
 * bakery root, which may be a sub-folder of the repository.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { UsageError } from '../errors/index.js';

const git = (cwd: string, args: string[], input?: string) =>
  // -z everywhere so that no path is quoted; stdin closed unless fed, so git never waits for a terminal.
  execa('git', args, {
    cwd,
    input,
    stdin: input === undefined ? 'ignore' : undefined,
    maxBuffer: 1024 * 1024 * 1024,
    stripFinalNewline: false,
  });

/** The full commit id REF names; a clear error when this clone does not have it. */
export async function resolveCommit(root: string, ref: string): Promise<string> {
  // "--end-of-options" keeps a ref that starts with "-" from being read as a flag.
  const result = await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]).catch(
    () => undefined,
  );
  const commit = result?.stdout.trim();
  if (!commit) {
    throw new UsageError(
      `--changed-since ${ref}: no such commit in this clone (a shallow clone may need "git fetch --deepen" or "--unshallow")`,
    );
  }
  return commit;
}

/** Whether the bakery root existed at that commit. */
export async function bakeryExistsAt(root: string, commit: string): Promise<boolean> {
  return Boolean(
    (await git(root, ['rev-parse', '--verify', '--quiet', `${commit}:./`]).catch(() => undefined))?.stdout.trim(),
  );
}

/**
 * Root-relative paths that differ between the commit and the work tree (changed, added and
 * deleted tracked files, renames as both paths, untracked files that are not ignored), each with
 * its blob id at the commit: undefined where the commit has no such file.
 */
export async function pathsChangedSince(root: string, commit: string): Promise<Map<string, string | undefined>> {
  const [tracked, untracked] = await Promise.all([
    git(root, ['diff', '--raw', '-z', '--no-abbrev', '--no-renames', '--relative', commit, '--', '.']),
    git(root, ['ls-files', '-z', '-o', '--exclude-standard', '--', '.']),
  ]);
  const changed = new Map<string, string | undefined>();
  // Records are ":<old mode> <new mode> <old id> <new id> <status>" then the path.
  const fields = tracked.stdout.split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const [oldMode, , oldId] = fields[i].slice(1).split(' ');
    // A submodule (160000) is a commit, not a file; an added file has no id at the commit.
    changed.set(fields[i + 1], oldMode === '000000' || oldMode === '160000' ? undefined : oldId);
  }
  for (const file of untracked.stdout.split('\0')) if (file) changed.set(file, undefined);
  return changed;
}

interface TreeEntry {
  mode: string;
  id: string;
  path: string;
}

/**
 * Writes into dest the files of the bakery at that commit that `wanted` picks (root-relative
 * paths): one `ls-tree` to list them and one `cat-file --batch` to read them all, however many.
 */
export async function writeFilesAt(
  root: string,
  commit: string,
  dest: string,
  wanted: (file: string) => boolean,
): Promise<number> {
  const listing = (await git(root, ['ls-tree', '-r', '-z', '--full-tree', `${commit}:./`])).stdout;
  const entries: TreeEntry[] = [];
  for (const record of listing.split('\0')) {
    if (!record) continue;
    // "<mode> <type> <id>\t<path>"; submodules (commit entries) are no files.
    const tab = record.indexOf('\t');
    const [mode, type, id] = record.slice(0, tab).split(' ');
    const file = record.slice(tab + 1);
    if (type === 'blob' && wanted(file)) entries.push({ mode, id, path: file });
  }
  if (entries.length === 0) return 0;
  const batch = await execa('git', ['cat-file', '--batch'], {
    cwd: root,
    input: entries.map((e) => `${e.id}\n`).join(''),
    encoding: 'buffer',
    maxBuffer: 1024 * 1024 * 1024,
  });
  const out = Buffer.from(batch.stdout);
  let at = 0;
  for (const entry of entries) {
    // Each answer: "<id> blob <size>\n<bytes>\n", in the order asked.
    const headerEnd = out.indexOf(0x0a, at);
    const size = Number(out.subarray(at, headerEnd).toString('latin1').split(' ')[2]);
    const bytes = out.subarray(headerEnd + 1, headerEnd + 1 + size);
    at = headerEnd + 1 + size + 1;
    const target = path.join(dest, ...entry.path.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    if (entry.mode === '120000') await symlink(bytes.toString(), target);
    else await writeFile(target, bytes);
  }
  return entries.length;
}
