import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseJsonOutput } from '../schema/json-schemas.js';

// Runs the built CLI (`npm test` builds first), the way Jenkins does.
const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const bakeries = path.join(repo, 'test/fixtures/bakeries');

async function bake(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [path.join(repo, 'bin/bake.js'), ...args], {
      env: { ...process.env, CI: 'true', NO_COLOR: '1' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every stderr line must be one `path:line:col: message`, nothing else (no stack, no blank). */
function problemLines(stderr: string, root: string): string[] {
  const lines = stderr.trimEnd().split('\n');
  for (const line of lines) expect(line).toMatch(/^\/\S+:\d+:\d+: \S.*$/);
  return lines.map((line) => line.split(`${root}/`).join(''));
}

describe('bake validate', () => {
  it('says how much it checked and exits 0 on the example bakery', async () => {
    const result = await bake('validate', '--dir', repo);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ok: 3 recipes, 5 roles, 4 cloud-init templates\n$/);
  });

  it('prints {valid, recipes} with --json, human text on stderr', async () => {
    const result = await bake('validate', '--dir', repo, '--json', 'web', 'base');
    expect(result.code).toBe(0);
    expect(parseJsonOutput('validate', result.stdout)).toEqual({ valid: true, recipes: ['base', 'web'] });
    expect(result.stderr).toMatch(/ok: 2 recipes/);
  });

  it('refuses an unknown recipe name and lists the known ones', async () => {
    const result = await bake('validate', '--dir', repo, 'wbe');
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('unknown recipe wbe (this bakery has: base, web, worker)');
  });

  it('prints control characters in names as visible escapes, not as terminal commands', async () => {
    const result = await bake('validate', '--dir', repo, 'w\u001b]0;owned\u0007\u001b[2Jbe');
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(result.stderr.trim()).toBe(
      'unknown recipe w\\x1b]0;owned\\x07\\x1b[2Jbe (this bakery has: base, web, worker)',
    );
  });

  it('lists every problem of a broken bakery, one path:line:col line each, and exits 1', async () => {
    const root = path.join(bakeries, 'broken');
    const result = await bake('validate', '--dir', root);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = problemLines(result.stderr, root);
    expect(lines).toEqual([
      'recipes/app.yaml:3:11: unknown parent recipe missing-parent (known: app, loop-a, loop-b)',
      'recipes/app.yaml:7:5: unknown role nope (not under roles/ nor in roles/requirements.yml)',
      'recipes/app.yaml:8:1: unknown key colour',
      'recipes/loop-a.yaml:2:17: recipe cycle: loop-a → loop-b → loop-a',
      'recipes/loop-b.yaml:2:17: recipe cycle: loop-b → loop-a → loop-b',
      expect.stringMatching(/^recipes\/syntax\.yaml:\d+:\d+: \S/),
    ]);
  });

  it('points at unpinned galaxy roles, role cycles and unknown roles', async () => {
    const root = path.join(bakeries, 'broken-roles');
    const result = await bake('validate', '--dir', root);
    expect(result.code).toBe(1);
    expect(problemLines(result.stderr, root)).toEqual([
      'recipes/svc.yaml:7:5: unknown role unheard_of (not under roles/ nor in roles/requirements.yml)',
      'roles/b/meta/main.yml:2:5: role dependency cycle: a → b → a',
      'roles/requirements.yml:2:12: galaxy role geerlingguy.docker must pin a version (a tag or commit), not "main"',
    ]);
  });

  it('reports each broken cloud-init entry at its line in the recipe', async () => {
    const root = path.join(bakeries, 'broken-cloud-init');
    const result = await bake('validate', '--dir', root);
    expect(result.code).toBe(1);
    expect(problemLines(result.stderr, root)).toEqual([
      `recipes/svc.yaml:5:5: cloud-init template needs-vars.yaml.hbs: "service" not defined in the recipe's vars`,
      'recipes/svc.yaml:7:5: cloud-init template plain.txt.hbs must render to a document starting with #cloud-config',
    ]);
  });

  it('reports a missing bakery as a problem, not a crash', async () => {
    const root = path.join(bakeries, 'does-not-exist');
    const result = await bake('validate', '--dir', root);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`${root}/recipes:1:1: no recipes found (expected recipes/*.yaml)`);
  });
});
