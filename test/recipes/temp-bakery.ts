import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RecipeErrors } from '../../src/errors/index.js';

/** A throwaway bakery from inline files (path → content), for cases whose point is one line. */
export async function tempBakery(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'bake-recipes-'));
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
  return root;
}

/** The problem lines of a failed load, with the bakery root cut off: `recipes/a.yaml:3:5: …`. */
export async function problems(root: string, load: (root: string) => Promise<unknown>): Promise<string[]> {
  try {
    await load(root);
  } catch (error) {
    if (error instanceof RecipeErrors) return error.errors.map((e) => e.toLine().split(`${root}${path.sep}`).join(''));
    throw error;
  }
  throw new Error('expected the bakery to be refused');
}

/** A role that exists, so recipes in temp bakeries can name it. */
export const minimalRole = { 'roles/common/tasks/main.yml': '- ansible.builtin.debug: { msg: hi }\n' };
