import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../src/aws/image-record.js';
import { ownImages } from '../../src/pipeline/plan-deps.js';
import { bakeryNameNote, defaultBakeryName, remoteParts } from '../../src/recipes/bakery-name.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { bakery, recipe } from '../packer/recipe-factory.js';

describe('bakery identity', () => {
  it("defaults to the git remote's name (plus the sub-folder in a monorepo), else the folder name, and says so", async () => {
    const repo = await mkdtemp(path.join(tmpdir(), 'bake-name-'));
    await execa('git', ['init', '-q'], { cwd: repo });
    expect(await defaultBakeryName(repo)).toEqual({ name: path.basename(repo), source: 'directory' });
    await execa('git', ['remote', 'add', 'origin', 'git@git.example.com:platform/Team Images.git'], { cwd: repo });
    expect(await defaultBakeryName(repo)).toEqual({ name: 'git.example.com/platform/Team-Images', source: 'git remote', legacyName: 'Team-Images' });
    await mkdir(path.join(repo, 'bakeries/web'), { recursive: true });
    expect(await defaultBakeryName(path.join(repo, 'bakeries/web'))).toEqual({
      name: 'git.example.com/platform/Team-Images/bakeries/web',
      source: 'git remote',
      legacyName: 'Team-Images/bakeries/web',
    });
    expect(bakeryNameNote('Team-Images', 'git remote')).toMatch(/^bakery Team-Images \(from the git remote origin\): .*set bakery: in bake\.config\.yaml/);
    expect(bakeryNameNote('shop', 'config')).toBeUndefined();
  });

  it('takes host, owner and repository from every remote form, never the credentials of an https remote', () => {
    expect(remoteParts('git@github.com:team-a/images.git')).toEqual(['github.com', 'team-a', 'images']);
    expect(remoteParts('https://github.com/team-b/images.git')).toEqual(['github.com', 'team-b', 'images']);
    expect(remoteParts('https://jenkins:ghp_secret@github.com/team-b/images/')).toEqual(['github.com', 'team-b', 'images']);
    expect(remoteParts('ssh://git@gitlab.example.com:2222/group/sub/images.git')).toEqual(['gitlab.example.com', 'group', 'sub', 'images']);
    expect(remoteParts('/srv/git/images.git')).toEqual(['srv', 'git', 'images']);
  });

  it('takes bakery: from bake.config.yaml and refuses a name that is no tag-safe word', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'bake-name-'));
    await mkdir(path.join(root, 'recipes'));
    await mkdir(path.join(root, 'roles/common/tasks'), { recursive: true });
    await writeFile(path.join(root, 'roles/common/tasks/main.yml'), '- ansible.builtin.debug: { msg: hi }\n');
    await writeFile(path.join(root, 'recipes/web.yaml'), 'name: web\nbase: { ami: ami-0123456789abcdef0 }\n');
    await writeFile(path.join(root, 'bake.config.yaml'), 'bakery: team-a\n');
    expect((await loadBakery(root)).config).toMatchObject({ bakery: 'team-a', bakerySource: 'config' });
    await writeFile(path.join(root, 'bake.config.yaml'), 'bakery: "{{ pwd }}"\n');
    await expect(loadBakery(root)).rejects.toThrow(/bakery: a bakery name: letters, digits and \. _ - \//);
  });

  it("lets plan see only its own images: another bakery's are invisible, untagged ones of its recipes still count", async () => {
    const image = (id: string, recipeName: string, owner?: string): ImageRecord =>
      ({ imageId: id, region: 'us-east-1', name: id, recipe: recipeName, fingerprint: 'f', createdAt: '2026-11-30T00:00:00.000Z', state: 'available', snapshotIds: [], tags: { 'bake:recipe': recipeName, ...(owner ? { 'bake:bakery': owner } : {}) } });
    const all = [image('ami-mine', 'web', 'team-a'), image('ami-theirs', 'web', 'team-b'), image('ami-legacy', 'web'), image('ami-other-legacy', 'api')];
    const mine = bakery([recipe({ name: 'web' })], { config: { ...bakery([]).config, bakery: 'team-a' } });
    const seen = await ownImages({ listBakedImages: async () => all }, mine).listBakedImages(['us-east-1']);
    expect(seen.map((i) => i.imageId)).toEqual(['ami-mine', 'ami-legacy']);
  });

  it('reads, without bakery:, the images tagged with the name older versions derived as its own', async () => {
    const image = (id: string, owner: string): ImageRecord =>
      ({ imageId: id, region: 'us-east-1', name: id, recipe: 'web', fingerprint: 'f', createdAt: '2026-11-30T00:00:00.000Z', state: 'available', snapshotIds: [], tags: { 'bake:recipe': 'web', 'bake:bakery': owner } });
    const all = [image('ami-new', 'github.com/team-a/images'), image('ami-old', 'images'), image('ami-team-b', 'github.com/team-b/images')];
    const config = { ...bakery([]).config, bakery: 'github.com/team-a/images', bakerySource: 'git remote' as const, bakeryLegacyName: 'images' };
    const seen = await ownImages({ listBakedImages: async () => all }, bakery([recipe({ name: 'web' })], { config })).listBakedImages(['us-east-1']);
    expect(seen.map((i) => i.imageId)).toEqual(['ami-new', 'ami-old']);
  });
});
