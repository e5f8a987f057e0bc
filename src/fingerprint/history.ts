/**
 * What the bakery looked like when an image was baked, read from git at the image's
 * `bake:git-commit`: the plan compares it with today to say which files changed.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

export interface BakeryHistory {
  /** Content ids (root-relative path → blob id) of the watched folders at that commit; undefined when the commit is not in this clone. */
  idsAt(commit: string): Promise<Map<string, string> | undefined>;
  /** A file's text at that commit (root-relative path); undefined if absent or the commit is unknown. */
  fileAt(commit: string, file: string): Promise<string | undefined>;
  /** A file's text in the work tree today. */
  fileNow(file: string): Promise<string | undefined>;
}

async function readNow(root: string, file: string): Promise<string | undefined> {
  return readFile(path.join(root, file), 'utf8').catch(() => undefined);
}

/** For bakeries outside git: no history, so reasons fall back to the image's bake:inputs components. */
export function noHistory(root: string): BakeryHistory {
  return { idsAt: async () => undefined, fileAt: async () => undefined, fileNow: (file) => readNow(root, file) };
}

const COMMIT = /^[0-9a-f]{7,64}$/;

export function gitHistory(root: string, folders: string[]): BakeryHistory {
  // One ls-tree per commit, however many recipes were baked from it.
  const trees = new Map<string, Promise<Map<string, string> | undefined>>();
  const run = (args: string[]) =>
    execa('git', args, { cwd: root, stdin: 'ignore', maxBuffer: 1024 * 1024 * 1024, stripFinalNewline: false }).then(
      (r) => r.stdout,
      () => undefined,
    );
  const idsAt = (commit: string) => {
    if (!COMMIT.test(commit)) return Promise.resolve(undefined);
    let tree = trees.get(commit);
    if (!tree) {
      tree = run(['ls-tree', '-r', '-z', commit, '--', ...folders]).then((stdout) => {
        if (stdout === undefined) return undefined;
        const ids = new Map<string, string>();
        for (const record of stdout.split('\0')) {
          if (!record) continue;
          const tab = record.indexOf('\t');
          const [, type, id] = record.slice(0, tab).split(' ');
          if (type === 'blob') ids.set(record.slice(tab + 1), id);
        }
        return ids;
      });
      trees.set(commit, tree);
    }
    return tree;
  };
  return {
    idsAt,
    async fileAt(commit, file) {
      if (!COMMIT.test(commit)) return undefined;
      // "<commit>:./path" is relative to the working directory: the bakery root may be a sub-folder of the repository.
      return run(['show', `${commit}:./${file}`]);
    },
    fileNow: (file) => readNow(root, file),
  };
}
