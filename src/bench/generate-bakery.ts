/**
 * A large synthetic bakery for the plan benchmark: thousands of small, realistic roles with
 * meta dependencies, recipes using a handful of them, some built FROM others. Deterministic
 * (seeded), so runs compare. Returns the Bakery model too, so the bench measures planning and
 * not YAML loading.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Bakery, BaseImage, Recipe, Role } from '../recipes/model.js';

export interface BakerySize {
  recipes: number;
  roles: number;
  filesPerRole: number;
}

export const DEBIAN_FILTER: BaseImage = { kind: 'filter', name: 'debian-12-amd64-*', owners: ['136693071363'] };

/** Park–Miller: tiny, seeded, good enough to spread roles over recipes. */
function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 48271) % 2147483647) / 2147483647;
}

function roleFiles(name: string, index: number, dependencies: string[], count: number): Record<string, string> {
  const files: Record<string, string> = {
    'meta/main.yml': stringify({
      galaxy_info: { author: 'platform', description: `${name} role`, min_ansible_version: '2.14' },
      dependencies,
    }),
    'defaults/main.yml': stringify({
      [`${name.replace(/-/g, '_')}_enabled`]: true,
      [`${name.replace(/-/g, '_')}_port`]: 8000 + (index % 1000),
    }),
    'handlers/main.yml': stringify([
      { name: `restart ${name}`, 'ansible.builtin.service': { name, state: 'restarted' } },
    ]),
    'tasks/main.yml': stringify([
      {
        name: `install ${name}`,
        'ansible.builtin.apt': { name: [name, 'ca-certificates'], state: 'present', update_cache: true },
      },
      {
        name: `configure ${name}`,
        'ansible.builtin.template': { src: `${name}.conf.j2`, dest: `/etc/${name}/${name}.conf`, mode: '0644' },
        notify: `restart ${name}`,
      },
      { name: `enable ${name}`, 'ansible.builtin.service': { name, enabled: true } },
    ]),
    'vars/main.yml': stringify({
      [`${name.replace(/-/g, '_')}_user`]: name,
      [`${name.replace(/-/g, '_')}_limits`]: { nofile: 65536, nproc: 4096 },
    }),
    'README.md': `# ${name}\n\nInstalls and configures ${name}. Variables are in defaults/main.yml.\n`,
  };
  for (let i = 0; Object.keys(files).length < count; i++) {
    const kind = i % 3;
    if (kind === 0)
      files[`templates/${name}-${i}.conf.j2`] =
        `# managed by ansible\n[${name}]\nlisten = {{ ${name.replace(/-/g, '_')}_port }}\nworkers = ${1 + (i % 8)}\n`;
    else if (kind === 1)
      files[`tasks/part-${i}.yml`] = stringify([
        {
          name: `step ${i} of ${name}`,
          'ansible.builtin.lineinfile': { path: `/etc/${name}/extra.conf`, line: `option_${i} = on`, create: true },
        },
      ]);
    else files[`files/${name}-${i}.txt`] = `${name} static file ${i}\n`.repeat(4);
  }
  return files;
}

export async function generateBakery(root: string, size: BakerySize, seed = 42): Promise<Bakery> {
  const rand = random(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const roles = new Map<string, Role>();
  const names = Array.from({ length: size.roles }, (_, i) => `role-${String(i).padStart(4, '0')}`);
  const writes: Array<[string, string]> = [];
  names.forEach((name, i) => {
    // Dependencies point to lower-numbered roles only, so the graph has no cycles; early roles are the shared "common" ones.
    const dependencies = new Set<string>();
    if (i >= 50 && rand() < 0.5) dependencies.add(names[pick(50)]);
    if (i >= 100 && rand() < 0.3) dependencies.add(names[50 + pick(i - 50)]);
    const dir = path.join(root, 'roles', name);
    roles.set(name, { name, dir, dependencies: [...dependencies], source: 'local' });
    for (const [file, text] of Object.entries(roleFiles(name, i, [...dependencies], size.filesPerRole)))
      writes.push([path.join(dir, file), text]);
  });
  const templates = Array.from({ length: 10 }, (_, i) => `service-${i}.yaml.hbs`);
  templates.forEach((t, i) =>
    writes.push([
      path.join(root, 'cloud-init', t),
      `#cloud-config\nhostname: {{service}}-${i}\nruncmd:\n  - [systemctl, restart, "{{service}}"]\n`,
    ]),
  );

  const recipes: Recipe[] = [];
  for (let i = 0; i < size.recipes; i++) {
    const name = `recipe-${String(i).padStart(4, '0')}`;
    const file = path.join(root, 'recipes', `${name}.yaml`);
    // A third of the recipes after the first hundred are built FROM an earlier recipe.
    const base: BaseImage =
      i >= 100 && rand() < 0.33 ? { kind: 'recipe', recipe: recipes[pick(i)].name } : DEBIAN_FILTER;
    const drawn = rand() < 0.33 ? ['us-east-1', 'eu-west-1'] : ['us-east-1'];
    // A child is built only in regions its parent has (bake validate refuses anything else).
    const parentRegions = base.kind === 'recipe' ? recipes.find((r) => r.name === base.recipe)!.regions : undefined;
    const regions = parentRegions ? drawn.filter((region) => parentRegions.includes(region)) : drawn;
    const roleCount = 3 + pick(4);
    const uses = new Set<string>();
    while (uses.size < roleCount) uses.add(names[pick(names.length)]);
    const template = templates[pick(templates.length)];
    const at = { file, line: 1, col: 1 };
    const recipe: Recipe = {
      name,
      description: `service ${i}`,
      file,
      base,
      regions,
      instanceType: ['t3.small', 't3.medium', 'm6i.large'][pick(3)],
      sshUsername: 'admin',
      roles: [...uses].map((role) => ({ name: role, vars: { port: 9000 + pick(100) }, location: at })),
      cloudInit: [{ template, vars: { service: name }, location: at }],
      tags: { team: `team-${pick(20)}` },
      pin: [],
      ssmPins: [],
      encrypted: true,
      kmsKeyIds: {},
      imdsv2: true,
      shareWith: [],
      verify: [],
      ansibleEnv: [],
      locations: { base: at },
    };
    recipes.push(recipe);
    const yamlBase =
      base.kind === 'recipe'
        ? { recipe: base.recipe }
        : base.kind === 'filter'
          ? { filter: { name: base.name, owners: base.owners } }
          : base;
    writes.push([
      file,
      stringify({
        name,
        description: recipe.description,
        base: yamlBase,
        regions,
        instance_type: recipe.instanceType,
        roles: recipe.roles.map((r) => ({ name: r.name, vars: r.vars })),
        cloud_init: [{ template, vars: { service: name } }],
        tags: recipe.tags,
      }),
    ]);
  }
  const dirs = new Set(writes.map(([file]) => path.dirname(file)));
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  // Bounded concurrency: tens of thousands of writes at once would hit the open-file limit.
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < writes.length) {
        const [file, text] = writes[next++];
        await writeFile(file, text);
      }
    }),
  );
  return {
    root,
    config: {
      regions: ['us-east-1'],
      instanceType: 't3.small',
      sshUsername: 'admin',
      tags: {},
      encrypted: true,
      imdsv2: true,
      pinRoots: [],
      bakery: 'bake-tests',
      bakerySource: 'config',
      environments: [],
      promotion: {},
    },
    recipes,
    roles,
  };
}
