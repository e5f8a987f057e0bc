/**
 * `bake plan --changed-since REF` narrows the plan to recipes whose image inputs differ between
 * REF and the work tree, exactly as the fingerprint sees them (role dependencies included).
 */
import { mkdir, rename } from 'node:fs/promises';
import { execa } from 'execa';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changedSince } from '../../src/pipeline/changed-since.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { UsageError } from '../../src/errors/index.js';
import { BakeryRepo, FILES } from './bakery-repo.js';

let repo: BakeryRepo;
beforeEach(async () => {
  repo = await BakeryRepo.create();
});
afterEach(() => repo.close());

async function changed(ref = 'HEAD', root = repo.root): Promise<Record<string, string[]>> {
  const result = await changedSince(await loadBakery(root), ref);
  return Object.fromEntries(result.changed);
}

describe('bake plan --changed-since', () => {
  it('finds nothing when the work tree equals REF', async () => {
    expect(await changed()).toEqual({});
  });

  it('counts a role reached only through meta dependencies, and carries a parent change to its child', async () => {
    // common is base's role and, through nginx's meta/main.yml, web's as well.
    await repo.write('roles/common/defaults/main.yml', 'common_timezone: Europe/Berlin\n');
    expect(await changed()).toEqual({
      base: ['roles changed: common'],
      web: ['roles changed: common', 'parent recipe base changed'],
    });
  });

  it("leaves the parent out when only the child's role changed", async () => {
    await repo.write('roles/nginx/templates/site.conf.j2', 'server { listen {{ nginx_port }} default_server; }\n');
    expect(await changed()).toEqual({ web: ['roles changed: nginx'] });
  });

  it('ignores what does not reach an image: comments and layout in a recipe, files outside the inputs', async () => {
    await repo.write(
      'recipes/web.yaml',
      `# the front end\n${FILES['recipes/web.yaml'].replace('regions: [us-east-1]', 'regions:\n  - us-east-1')}`,
    );
    await repo.write('README.md', '# docs\n');
    expect(await changed()).toEqual({});
  });

  it('compares committed history too: a galaxy version bump between two commits', async () => {
    const before = await repo.commit('nothing yet');
    await repo.write(
      'roles/requirements.yml',
      '- name: geerlingguy.docker\n  src: geerlingguy.docker\n  version: 7.5.0\n',
    );
    await repo.commit('docker role 7.5.0');
    expect(await changed(before)).toEqual({ web: ['roles changed: geerlingguy.docker'] });
    expect(await changed('HEAD')).toEqual({});
  });

  it('calls a recipe that did not exist at REF new, and a recipe setting change a setting change', async () => {
    await repo.write(
      'recipes/worker.yaml',
      'name: worker\nbase:\n  recipe: base\nregions: [us-east-1]\nroles: [common]\n',
    );
    await repo.write(
      'recipes/base.yaml',
      'name: base\nbase:\n  ami: ami-0123456789abcdef0\nregions: [us-east-1]\ninstance_type: t3.large\nroles: [common]\n',
    );
    expect(await changed()).toEqual({
      base: ['recipe settings changed'],
      web: ['parent recipe base changed'],
      worker: ['new recipe'],
    });
  });

  it('works for a bakery in a sub-folder of the repository', async () => {
    const sub = path.join(repo.root, 'images');
    await mkdir(sub);
    for (const entry of ['roles', 'recipes', 'cloud-init'])
      await rename(path.join(repo.root, entry), path.join(sub, entry));
    const moved = await repo.commit('bakery moves to images/');
    await repo.write('images/cloud-init/web.yaml.hbs', '#cloud-config\nhostname: {{service}}-1\n');
    expect(await changed(moved, sub)).toEqual({ web: ['cloud-init changed'] });
  });

  it(
    'works beside 80,000 files outside roles/, for a role edit and for a recipe edit',
    { timeout: 120_000 },
    async () => {
      // One git fast-import commits 80,000 small files under assets/ (16 distinct blobs). They stay out of
      // the work tree (sparse checkout): writing them takes a minute on a busy disk, and REF's tree is
      // what used to break (every path outside roles/ went to git archive as an argument).
      const stream: string[] = [];
      for (let n = 1; n <= 16; n++) stream.push('blob', `mark :${n}`, `data ${`asset ${n}`.length}`, `asset ${n}`);
      stream.push(
        'commit refs/heads/main',
        'committer t <t@example.com> 0 +0000',
        'data 10',
        '80k assets',
        `from ${await repo.git('rev-parse', 'HEAD')}`,
      );
      for (let n = 0; n < 80_000; n++)
        stream.push(`M 100644 :${(n % 16) + 1} assets/${Math.floor(n / 1000)}/file-${n}.txt`);
      await execa('git', ['fast-import', '--quiet'], { cwd: repo.root, input: `${stream.join('\n')}\n` });
      await repo.git('sparse-checkout', 'set', '--no-cone', '/*', '!/assets/');
      await repo.git('reset', '-q', '--hard', 'main');
      expect(
        Number((await execa('sh', ['-c', 'git ls-tree -r HEAD | wc -l'], { cwd: repo.root })).stdout),
      ).toBeGreaterThan(80_000);

      await repo.write('roles/nginx/templates/site.conf.j2', 'server { listen 8080; }\n');
      expect(await changed()).toEqual({ web: ['roles changed: nginx'] });
      await repo.write(
        'recipes/base.yaml',
        FILES['recipes/base.yaml'].replace('roles: [common]', 'instance_type: t3.large\nroles: [common]'),
      );
      expect(await changed()).toEqual({
        base: ['recipe settings changed'],
        web: ['roles changed: nginx', 'parent recipe base changed'],
      });
    },
  );

  it('refuses a ref this clone does not have, in one line', async () => {
    const error = await changedSince(await loadBakery(repo.root), 'no-such-branch').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/^--changed-since no-such-branch: no such commit in this clone/);
  });
});
