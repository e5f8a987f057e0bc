import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { blobId } from '../../src/fingerprint/content-ids.js';
import { gitHistory } from '../../src/fingerprint/history.js';
import { BakeryRepo } from '../pipeline/bakery-repo.js';

let repo: BakeryRepo | undefined;
afterEach(async () => {
  await repo?.close();
  repo = undefined;
});

describe('the bakery at an image’s commit', () => {
  it('gives content ids and files as they were committed, relative to a bakery in a sub-folder', async () => {
    repo = await BakeryRepo.create({ git: false });
    const bakery = path.join(repo.root, 'images');
    await mkdir(path.join(bakery, 'roles/app/tasks'), { recursive: true });
    await writeFile(path.join(bakery, 'roles/app/tasks/main.yml'), 'v1\n');
    await repo.git('init', '-q');
    const commit = await repo.commit('v1');
    await writeFile(path.join(bakery, 'roles/app/tasks/main.yml'), 'v2\n');
    await repo.commit('v2');

    const history = gitHistory(bakery, ['roles', 'cloud-init']);
    expect(await history.idsAt(commit)).toEqual(new Map([['roles/app/tasks/main.yml', blobId(Buffer.from('v1\n'))]]));
    expect(await history.fileAt(commit, 'roles/app/tasks/main.yml')).toBe('v1\n');
    expect(await history.fileNow('roles/app/tasks/main.yml')).toBe('v2\n');
  });

  it('is unknown for a commit this clone does not have, or an image without one', async () => {
    repo = await BakeryRepo.create();
    const history = gitHistory(repo.root, ['roles']);
    expect(await history.idsAt('0123456789abcdef0123456789abcdef01234567')).toBeUndefined();
    expect(await history.idsAt('unknown')).toBeUndefined();
    expect(await history.fileAt('0123456789abcdef0123456789abcdef01234567', 'recipes/web.yaml')).toBeUndefined();
  });
});
