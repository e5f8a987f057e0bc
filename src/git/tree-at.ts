/**
 * The bakery as it was at a git ref, written out to a folder so it can be loaded like today's
 * (`bake plan --changed-since REF`). `git archive <commit>:./` takes the bakery root's tree even
 * when the bakery is a sub-folder of the repository; nothing in the clone is touched.
 */
import { mkdir } from 'node:fs/promises';
import { execa } from 'execa';
import { UsageError } from '../errors/index.js';

const git = (root: string, args: string[]) => execa('git', args, { cwd: root, stdin: 'ignore', maxBuffer: 1024 * 1024 * 1024 });

/** The full commit id REF names; a clear error when this clone does not have it. */
export async function resolveCommit(root: string, ref: string): Promise<string> {
  // "--end-of-options" keeps a ref that starts with "-" from being read as a flag.
  const result = await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]).catch(() => undefined);
  const commit = result?.stdout.trim();
  if (!commit) {
    throw new UsageError(`--changed-since ${ref}: no such commit in this clone (a shallow clone may need "git fetch --deepen" or "--unshallow")`);
  }
  return commit;
}

/**
 * What loading a bakery reads from a role folder: whether tasks/main.yml exists, and meta/main.yml.
 * The role's other files only matter through their content ids, which come from `git ls-tree`,
 * so they are not written out (60,000 role files take a minute to write on a slow disk).
 */
const ROLE_FILE_LOADED = /^roles\/[^/]+\/(tasks|meta)\/main\.yml$/;
const INSIDE_A_ROLE = /^roles\/[^/]+\/./;

/** Writes the bakery root's loadable files at that commit into dest; false when the bakery root did not exist then. */
export async function extractBakeryAt(root: string, commit: string, dest: string): Promise<boolean> {
  const tree = (await git(root, ['rev-parse', '--verify', '--quiet', `${commit}:./`]).catch(() => undefined))?.stdout.trim();
  if (!tree) return false;
  await mkdir(dest, { recursive: true });
  // From a sub-folder, git would also narrow the tree to that folder's path: run it at the top.
  const top = (await git(root, ['rev-parse', '--show-toplevel'])).stdout.trim();
  const listing = (await git(top, ['ls-tree', '-r', '-z', '--name-only', tree])).stdout;
  const wanted = listing.split('\0').filter((file) => file && (ROLE_FILE_LOADED.test(file) || !INSIDE_A_ROLE.test(file)));
  if (wanted.length === 0) return true;
  // Paths on stdin would be nicer, but git archive takes them only as arguments: "--" keeps them paths.
  await git(top, ['archive', '--format=tar', tree, '--', ...wanted.map((file) => `:(literal)${file}`)]).pipe('tar', ['-x', '-C', dest]);
  return true;
}
