import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parseJsonOutput } from '../schema/json-schemas.js';

const bake = path.resolve('bin/bake.js');
const bakery = path.resolve('test/fixtures/pipeline/cli-bakery');

describe('bake render --json', () => {
  for (const shape of ['legacy', 'modern'] as const) {
    it(`lists every file it wrote for the ${shape} shape, and only the JSON goes to stdout`, async () => {
      const out = await mkdtemp(path.join(tmpdir(), 'bake-render-json-'));
      const run = await execa(
        'node',
        [bake, 'render', '--dir', bakery, '--out', out, '--packer-shape', shape, '--json'],
        { reject: false, env: { CI: 'true' } },
      );
      expect(run.exitCode, run.stderr).toBe(0);
      const printed = parseJsonOutput('render', run.stdout);
      expect(printed.shape).toBe(shape);
      expect(printed.recipes.map((r: { recipe: string }) => r.recipe)).toEqual(['base', 'web']);
      for (const recipe of printed.recipes) {
        expect(recipe.shape).toBe(shape);
        for (const file of [
          recipe.template,
          recipe.playbook,
          recipe.verify_script,
          recipe.ansible_command,
          ...recipe.cloud_init,
        ])
          expect(existsSync(file), file).toBe(true);
      }
      expect(run.stderr).toMatch(/rendered base → /);
    });
  }
});
