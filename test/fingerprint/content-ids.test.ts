import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { blobId, contentIdSourceFor, gitContentIds, hashedContentIds } from '../../src/fingerprint/content-ids.js';
import { BakeryRepo } from '../pipeline/bakery-repo.js';

const FOLDERS = ['roles', 'cloud-init'];
let repo: BakeryRepo | undefined;
afterEach(async () => {
  await repo?.close();
  repo = undefined;
});

describe('content ids', () => {
  it("are git's blob ids, byte for byte (empty, binary and unicode content alike)", async () => {
    repo = await BakeryRepo.create({ git: false });
    const samples = [Buffer.alloc(0), Buffer.from([0, 1, 2, 255, 10, 13]), Buffer.from('héllo wörld\r\n')];
    for (const [i, bytes] of samples.entries()) {
      const file = path.join(repo.root, `sample-${i}`);
      await writeFile(file, bytes);
      const { stdout } = await execa('git', ['hash-object', '--no-filters', file]);
      expect(blobId(bytes)).toBe(stdout.trim());
    }
  });

  it('read from the git index match hashing every file, for committed, modified, untracked, added and deleted files', async () => {
    repo = await BakeryRepo.create();
    await repo.write('roles/nginx/tasks/main.yml', '- name: nginx (edited, not committed)\n');
    await repo.write('roles/nginx/handlers/main.yml', '- name: reload nginx\n'); // untracked
    await repo.write('roles/common/files/motd', 'welcome\n');
    await repo.git('add', 'roles/common/files/motd'); // staged, then edited again
    await repo.write('roles/common/files/motd', 'welcome, edited after staging\n');
    await repo.remove('roles/common/defaults/main.yml'); // deleted in the work tree
    await mkdir(path.join(repo.root, 'roles/common/files'), { recursive: true });
    await symlink('motd', path.join(repo.root, 'roles/common/files/motd-link'));

    const fromGit = await gitContentIds(repo.root).idsUnder(FOLDERS);
    const fromBytes = await hashedContentIds(repo.root).idsUnder(FOLDERS);
    expect(fromGit).toEqual(fromBytes);
    expect(fromGit.has('roles/common/defaults/main.yml')).toBe(false);
    expect(fromGit.get('roles/nginx/handlers/main.yml')).toBe(blobId(Buffer.from('- name: reload nginx\n')));
    expect(fromGit.get('roles/common/files/motd')).toBe(blobId(Buffer.from('welcome, edited after staging\n')));
  });

  it('follow symlinks to their content: changing the linked file or folder changes the id, committed or not', async () => {
    repo = await BakeryRepo.create();
    await repo.write('shared/nginx.conf', 'worker_processes 1;\n');
    await repo.write('shared/snippets/gzip.conf', 'gzip on;\n');
    await mkdir(path.join(repo.root, 'roles/nginx/files'), { recursive: true });
    await symlink('../../../shared/nginx.conf', path.join(repo.root, 'roles/nginx/files/nginx.conf'));
    await symlink('../../../shared/snippets', path.join(repo.root, 'roles/nginx/files/snippets'));
    await symlink('.', path.join(repo.root, 'roles/nginx/files/loop'));
    await repo.commit('links');
    for (const source of [gitContentIds(repo.root), hashedContentIds(repo.root)]) {
      await repo.write('shared/nginx.conf', 'worker_processes 1;\n');
      await repo.write('shared/snippets/gzip.conf', 'gzip on;\n');
      const before = await source.idsUnder(FOLDERS);
      expect(before.get('roles/nginx/files/nginx.conf')).toBe(blobId(Buffer.from('worker_processes 1;\n')));
      expect(before.get('roles/nginx/files/snippets/gzip.conf')).toBe(blobId(Buffer.from('gzip on;\n')));
      await repo.write('shared/nginx.conf', 'worker_processes 64;\n');
      await repo.write('shared/snippets/gzip.conf', 'gzip off;\n');
      const after = await source.idsUnder(FOLDERS);
      expect(after.get('roles/nginx/files/nginx.conf')).toBe(blobId(Buffer.from('worker_processes 64;\n')));
      expect(after.get('roles/nginx/files/snippets/gzip.conf')).toBe(blobId(Buffer.from('gzip off;\n')));
    }
  });

  it('leave out files git ignores, like an Ansible .retry file', async () => {
    repo = await BakeryRepo.create();
    await repo.write('roles/nginx/site.retry', 'host1\n');
    const ids = await gitContentIds(repo.root).idsUnder(FOLDERS);
    expect(ids.has('roles/nginx/site.retry')).toBe(false);
  });

  it('are the same for a committed file and the same bytes not yet committed', async () => {
    repo = await BakeryRepo.create();
    const text = '- name: a new task file\n';
    await repo.write('roles/common/tasks/extra.yml', text);
    const before = (await gitContentIds(repo.root).idsUnder(FOLDERS)).get('roles/common/tasks/extra.yml');
    await repo.commit('add extra');
    const after = (await gitContentIds(repo.root).idsUnder(FOLDERS)).get('roles/common/tasks/extra.yml');
    expect(before).toBe(blobId(Buffer.from(text)));
    expect(after).toBe(before);
  });

  it('work for a bakery in a sub-folder of its repository, with paths relative to the bakery', async () => {
    repo = await BakeryRepo.create({ git: false });
    const bakery = path.join(repo.root, 'images', 'bakery');
    await mkdir(path.join(bakery, 'roles/app/tasks'), { recursive: true });
    await writeFile(path.join(bakery, 'roles/app/tasks/main.yml'), '- debug: msg=hi\n');
    await repo.git('init', '-q');
    await repo.commit('nested bakery');
    await writeFile(path.join(bakery, 'roles/app/tasks/extra.yml'), '- debug: msg=new\n');
    const source = await contentIdSourceFor(bakery);
    const ids = await source.idsUnder(FOLDERS);
    expect([...ids.keys()].sort()).toEqual(['roles/app/tasks/extra.yml', 'roles/app/tasks/main.yml']);
    expect(ids).toEqual(await hashedContentIds(bakery).idsUnder(FOLDERS));
  });

  it('outside any git repository come from hashing every file', async () => {
    repo = await BakeryRepo.create({ git: false });
    const source = await contentIdSourceFor(repo.root);
    const ids = await source.idsUnder(FOLDERS);
    expect(ids.get('cloud-init/web.yaml.hbs')).toBe(blobId(Buffer.from('#cloud-config\nhostname: {{service}}\n')));
    expect(ids.size).toBe(7);
  });
});
