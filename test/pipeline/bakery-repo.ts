/**
 * A small real bakery in a temp git repository (roles with a meta dependency, a galaxy role,
 * a cloud-init template, a base recipe and a web recipe built FROM it), with the Bakery model
 * written out by hand so these tests do not depend on the YAML loader.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { ImageCatalog, ImageRecord } from '../../src/aws/image-record.js';
import type { BuildRecords, RecordQuery } from '../../src/aws/build-records.js';
import type { BuildRecord } from '../../src/tags/build-record.js';
import { distributionTag } from '../../src/lifecycle/distribution-settings.js';
import { DISTRIBUTION_TAG } from '../../src/tags/tag-contract.js';
import type { Bakery, Recipe, Role } from '../../src/recipes/model.js';
import type { RecipePlan } from '../../src/pipeline/plan.js';

export const FILES: Record<string, string> = {
  'roles/common/tasks/main.yml': '- name: base packages\n  ansible.builtin.apt:\n    name: [curl, ca-certificates]\n',
  'roles/common/defaults/main.yml': 'common_timezone: UTC\n',
  'roles/nginx/meta/main.yml': 'dependencies:\n  - common\n',
  'roles/nginx/tasks/main.yml': '- name: nginx\n  ansible.builtin.apt:\n    name: nginx\n',
  'roles/nginx/templates/site.conf.j2': 'server { listen {{ nginx_port }}; }\n',
  'roles/requirements.yml': '- name: geerlingguy.docker\n  src: geerlingguy.docker\n  version: 7.4.1\n',
  'cloud-init/web.yaml.hbs': '#cloud-config\nhostname: {{service}}\n',
  'recipes/base.yaml': 'name: base\nbase:\n  ami: ami-0123456789abcdef0\nregions: [us-east-1]\nroles: [common]\n',
  'recipes/web.yaml':
    'name: web\nbase:\n  recipe: base\nregions: [us-east-1]\ninstance_type: t3.small\nroles:\n  - nginx\n  - geerlingguy.docker\ncloud_init:\n  - template: web.yaml.hbs\n    vars: { service: web }\n',
  '.gitignore': '*.retry\n',
};

export class BakeryRepo {
  constructor(readonly root: string) {}

  static async create(options: { git?: boolean } = {}): Promise<BakeryRepo> {
    const root = await mkdtemp(path.join(tmpdir(), 'bake-plan-'));
    const repo = new BakeryRepo(root);
    for (const [file, text] of Object.entries(FILES)) await repo.write(file, text);
    if (options.git ?? true) {
      await repo.git('init', '-q', '-b', 'main');
      await repo.commit('bakery');
    }
    return repo;
  }

  async write(file: string, text: string): Promise<void> {
    await mkdir(path.dirname(path.join(this.root, file)), { recursive: true });
    await writeFile(path.join(this.root, file), text);
  }

  async remove(file: string): Promise<void> {
    await rm(path.join(this.root, file));
  }

  async git(...args: string[]): Promise<string> {
    const env = {
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    };
    return (await execa('git', args, { cwd: this.root, env })).stdout;
  }

  async commit(message: string): Promise<string> {
    await this.git('add', '-A');
    await this.git('commit', '-q', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  close(): Promise<void> {
    return rm(this.root, { recursive: true, force: true });
  }

  role(name: string, dependencies: string[] = []): Role {
    return { name, dir: path.join(this.root, 'roles', name), dependencies, source: 'local' };
  }

  /** The Bakery the loader would make of FILES (settings can be overridden per recipe). */
  bakery(overrides: { base?: Partial<Recipe>; web?: Partial<Recipe>; galaxyVersion?: string } = {}): Bakery {
    const at = (file: string) => ({ file: path.join(this.root, file), line: 1, col: 1 });
    const recipe = (name: string, fields: Partial<Recipe>): Recipe => ({
      name,
      description: '',
      file: path.join(this.root, `recipes/${name}.yaml`),
      base: { kind: 'ami', ami: 'ami-0123456789abcdef0' },
      regions: ['us-east-1'],
      instanceType: 't3.micro',
      sshUsername: 'admin',
      roles: [],
      cloudInit: [],
      tags: {},
      pin: [],
      ssmPins: [],
      encrypted: false,
      kmsKeyIds: {},
      imdsv2: true,
      shareWith: [],
      verify: [],
      ansibleEnv: [],
      locations: { base: at(`recipes/${name}.yaml`) },
      ...fields,
    });
    const roles = new Map<string, Role>([
      ['common', this.role('common')],
      ['nginx', this.role('nginx', ['common'])],
      [
        'geerlingguy.docker',
        {
          name: 'geerlingguy.docker',
          dir: path.join(this.root, '.galaxy/geerlingguy.docker'),
          dependencies: [],
          source: 'galaxy',
          src: 'geerlingguy.docker',
          version: overrides.galaxyVersion ?? '7.4.1',
        },
      ],
    ]);
    return {
      root: this.root,
      config: {
        regions: ['us-east-1'],
        instanceType: 't3.micro',
        sshUsername: 'admin',
        tags: {},
        encrypted: false,
        imdsv2: true,
        pinRoots: [],
        bakery: 'bake-tests',
        bakerySource: 'config',
        environments: [],
        promotion: {},
      },
      roles,
      recipes: [
        recipe('base', { roles: [{ name: 'common', vars: {}, location: at('recipes/base.yaml') }], ...overrides.base }),
        recipe('web', {
          base: { kind: 'recipe', recipe: 'base' },
          instanceType: 't3.small',
          roles: [
            { name: 'nginx', vars: {}, location: at('recipes/web.yaml') },
            { name: 'geerlingguy.docker', vars: {}, location: at('recipes/web.yaml') },
          ],
          cloudInit: [{ template: 'web.yaml.hbs', vars: { service: 'web' }, location: at('recipes/web.yaml') }],
          ...overrides.web,
        }),
      ],
    };
  }
}

/** bake's images kept in memory, as EC2 tags would hold them; counts listings like EC2 calls. */
export class MemoryCatalog implements ImageCatalog, Pick<BuildRecords, 'read'> {
  images: ImageRecord[] = [];
  listings: string[][] = [];
  private clock = Date.parse('2026-11-01T00:00:00Z');
  private counter = 0;

  /** Build records, `recipe fingerprint region` → image id, as `bake build` writes them (src/aws/build-records.ts). */
  recorded = new Map<string, string>();

  record(recipe: string, fingerprint: string, region: string, imageId: string): void {
    this.recorded.set(`${recipe} ${fingerprint} ${region}`, imageId);
  }

  async read(queries: RecordQuery[]): Promise<Map<string, Record<string, BuildRecord>>> {
    const found = new Map<string, Record<string, BuildRecord>>();
    for (const { recipe, fingerprint, regions } of queries)
      for (const region of regions) {
        const imageId = this.recorded.get(`${recipe} ${fingerprint} ${region}`);
        if (imageId) found.set(recipe, { ...found.get(recipe), [region]: { imageId, runId: 'test', recordedAt: '' } });
      }
    return found;
  }

  async listBakedImages(regions: string[]): Promise<ImageRecord[]> {
    this.listings.push(regions);
    return this.images.filter((i) => regions.includes(i.region)).map((i) => ({ ...i, tags: { ...i.tags } }));
  }

  /** What `bake build` leaves behind for a planned recipe: a tagged image per region. */
  bake(
    entry: RecipePlan,
    gitCommit: string,
    regions = entry.recipe.regions,
    extraTags: Record<string, string> = {},
  ): Record<string, string> {
    const createdAt = new Date((this.clock += 60_000)).toISOString();
    const amis: Record<string, string> = {};
    for (const region of regions) {
      const imageId = `ami-${(++this.counter).toString(16).padStart(17, '0')}`;
      amis[region] = imageId;
      this.record(entry.name, entry.fingerprint, region, imageId);
      this.images.push({
        imageId,
        region,
        name: `${entry.name}-${entry.fingerprint}`,
        recipe: entry.name,
        fingerprint: entry.fingerprint,
        createdAt,
        state: 'available',
        snapshotIds: [],
        tags: {
          'bake:recipe': entry.name,
          'bake:fingerprint': entry.fingerprint,
          'bake:git-commit': gitCommit,
          'bake:base-ami': entry.baseAmi,
          'bake:inputs': entry.inputs,
          [DISTRIBUTION_TAG]: distributionTag(entry.recipe),
          ...extraTags,
        },
      });
    }
    return amis;
  }
}
