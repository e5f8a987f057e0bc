/**
 * Writes schema/recipe.schema.json from the zod schema (`npm run schema`). The file is
 * committed so editors find it through each recipe's `yaml-language-server` line; a test
 * fails when it falls behind.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOutput } from '../io/output.js';
import { recipeJsonSchema } from './schema.js';

export async function writeRecipeSchema(root: string): Promise<string> {
  const file = path.join(root, 'schema', 'recipe.schema.json');
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(recipeJsonSchema(), null, 2)}\n`);
  await rename(temp, file);
  return file;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  createOutput({ json: false }).text(`wrote ${await writeRecipeSchema(root)}\n`);
}
