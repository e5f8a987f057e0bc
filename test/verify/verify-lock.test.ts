import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { verifyRecipe, verifyRoot, type VerifyDeps } from '../../src/verify/verify-recipe.js';

const root = mkdtempSync(path.join(tmpdir(), 'bake-verify-lock-'));
cpSync(path.join(import.meta.dirname, '../fixtures/verify/bakery'), root, { recursive: true });
afterAll(() => rmSync(root, { recursive: true, force: true }));

const untouchable: VerifyDeps = {
  instance: () => {
    throw new Error('no instance may be touched');
  },
  runPlaybook: () => Promise.reject(new Error('no playbook may run')),
  runCheck: () => Promise.reject(new Error('no check may run')),
};

describe('two verifies of one recipe at once', () => {
  it('the second fails at once, naming the process that holds the instance', async () => {
    mkdirSync(verifyRoot(root), { recursive: true });
    // This test's own process stands in for a running bake verify.
    writeFileSync(path.join(verifyRoot(root), 'child.lock'), `${process.pid}\n`);
    const bakery = await loadBakery(root);
    await expect(
      verifyRecipe(
        bakery,
        bakery.recipes.find((r) => r.name === 'child')!,
        untouchable,
      ),
    ).rejects.toThrow(`another bake verify of child is running (process ${process.pid}); wait for it or stop it`);
  });
});
