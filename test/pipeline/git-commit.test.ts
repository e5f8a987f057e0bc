import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { lookupGitCommit } from '../../src/git/commit.js';

describe('git commit of a bake', () => {
  it('takes GIT_COMMIT from Jenkins first', async () => {
    expect(await lookupGitCommit(tmpdir(), { GIT_COMMIT: ' 0123abcd \n' })).toBe('0123abcd');
  });

  it('asks git for HEAD of the bakery checkout', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-git-'));
    const git = (...args: string[]) =>
      execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir });
    await git('init', '-q');
    await writeFile(path.join(dir, 'recipe.yaml'), 'name: web\n');
    await git('add', '.');
    await git('commit', '-q', '-m', 'web');
    const { stdout } = await git('rev-parse', 'HEAD');
    expect(await lookupGitCommit(dir, {})).toBe(stdout.trim());
  });

  it('says "unknown" outside a git checkout', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-nogit-'));
    expect(await lookupGitCommit(dir, { GIT_CEILING_DIRECTORIES: tmpdir() })).toBe('unknown');
  });
});
