/**
 * Content ids of the bakery's files (roles/, cloud-init/). A content id is git's blob id,
 * sha1("blob <length>\0" + bytes), so a file has the same id whether git already knows it
 * (read from the index, no bytes read) or bake hashes it itself (untracked, modified, or no git
 * at all). That is what lets a plan over 60,000 role files avoid reading them on every run.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

/** Where a plan gets content ids from. Paths are relative to the bakery root, `/`-separated. */
export interface ContentIdSource {
  /** Every file under these folders (relative to the bakery root) → its content id. */
  idsUnder(folders: string[]): Promise<Map<string, string>>;
}

export function blobId(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/**
 * Ids of the file at `rel`, by content. A symlink counts as what it points to (Ansible reads
 * through it, so changing the linked file must change the fingerprint): a link to a file gets
 * that file's id, a link to a folder contributes every file under it, a dangling link its target
 * text. Without a link the map has one entry, `rel`.
 */
async function pathBlobIds(
  root: string,
  rel: string,
  into: Map<string, string>,
  seen: Set<string> = new Set(),
): Promise<void> {
  const file = path.join(root, rel);
  into.delete(rel);
  try {
    const info = await lstat(file);
    if (info.isFile()) return void into.set(rel, blobId(await readFile(file)));
    if (!info.isSymbolicLink()) return;
    const target = await stat(file).catch(() => undefined);
    if (!target) return void into.set(rel, blobId(Buffer.from(await readlink(file))));
    if (target.isFile()) return void into.set(rel, blobId(await readFile(file)));
    if (!target.isDirectory()) return;
    const real = await realpath(file);
    if (seen.has(real)) return; // a link back up its own tree
    seen.add(real);
    const inside: string[] = [];
    await walk(root, rel, inside);
    for (const child of inside) await pathBlobIds(root, child, into, seen);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
}

const toPosix = (p: string) => p.split(path.sep).join('/');

/** Hashes many files, a bounded number at a time (60,000 open files at once would hit EMFILE). */
async function hashFiles(root: string, relPaths: string[], into: Map<string, string>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < relPaths.length) await pathBlobIds(root, relPaths[next++], into);
  };
  await Promise.all(Array.from({ length: Math.min(32, relPaths.length) }, worker));
}

/** Files (and links) under `rel`; readdir follows `rel` itself when it is a link to a folder. */
async function walk(root: string, rel: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(path.join(root, rel), { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw error;
  }
  for (const entry of entries) {
    if (entry.name === '.git') continue;
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) await walk(root, child, out);
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(child);
  }
}

/** Reads and hashes every file: for bakeries outside git (and the reference the git path is tested against). */
export function hashedContentIds(root: string): ContentIdSource {
  return {
    async idsUnder(folders) {
      const files: string[] = [];
      for (const folder of folders) await walk(root, toPosix(folder).replace(/\/+$/, ''), files);
      const ids = new Map<string, string>();
      await hashFiles(root, files, ids);
      return ids;
    },
  };
}

async function git(root: string, args: string[]): Promise<string> {
  // stdin ignored so git never waits for a terminal; -z everywhere so no path is quoted.
  const { stdout } = await execa('git', args, {
    cwd: root,
    stdin: 'ignore',
    maxBuffer: 1024 * 1024 * 1024,
    stripFinalNewline: false,
  });
  return stdout;
}

/**
 * Ids from git's index for tracked files (one `git ls-files -s` for all folders), and hashed by
 * bake only for files that are modified, untracked (not ignored) or deleted in the work tree.
 * Git's paths here are relative to the bakery root, which may be a sub-folder of the repository.
 */
export function gitContentIds(root: string): ContentIdSource {
  return {
    async idsUnder(folders) {
      const inTree = folders.map(toPosix).filter((f) => !f.startsWith('../') && f !== '..' && !path.isAbsolute(f));
      const ids = new Map<string, string>();
      if (inTree.length > 0) {
        // Independent questions, asked at once: the index's ids, what changed in the work tree
        // (stats every tracked file), what is untracked (walks the folders; slower combined with -m).
        const [staged, modified, untracked] = await Promise.all([
          git(root, ['ls-files', '-s', '-z', '--', ...inTree]),
          git(root, ['ls-files', '-z', '-m', '-d', '--', ...inTree]),
          git(root, ['ls-files', '-z', '-o', '--exclude-standard', '--', ...inTree]),
        ]);
        const conflicted: string[] = [];
        for (const record of staged.split('\0')) {
          if (!record) continue;
          // "<mode> <id> <stage>\t<path>"; a conflicted file has several stages: hash it below.
          const tab = record.indexOf('\t');
          const [mode, id, stage] = record.slice(0, tab).split(' ');
          if (mode === '160000') continue; // a submodule is a commit, not a file
          // Git's id of a link is its target's path; the fingerprint needs what it points to.
          if (stage !== '0' || mode === '120000') {
            conflicted.push(record.slice(tab + 1));
            continue;
          }
          ids.set(record.slice(tab + 1), id);
        }
        const dirty = [...new Set([...`${modified}\0${untracked}`.split('\0').filter(Boolean), ...conflicted])];
        await hashFiles(root, dirty, ids);
      }
      const outside = folders.filter((f) => !inTree.includes(toPosix(f)));
      if (outside.length > 0) for (const [rel, id] of await hashedContentIds(root).idsUnder(outside)) ids.set(rel, id);
      return ids;
    },
  };
}

/** Git's index when the bakery is inside a git work tree, otherwise hashing every file. */
export async function contentIdSourceFor(root: string): Promise<ContentIdSource> {
  return (await isGitWorkTree(root)) ? gitContentIds(root) : hashedContentIds(root);
}

/** True when the bakery root is inside a git work tree (so git can supply ids and history). */
export async function isGitWorkTree(root: string): Promise<boolean> {
  try {
    return (await git(root, ['rev-parse', '--is-inside-work-tree'])).trim() === 'true';
  } catch {
    // Not a repository, or git is not installed.
    return false;
  }
}
