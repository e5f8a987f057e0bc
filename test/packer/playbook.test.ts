import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { renderPlaybook } from '../../src/packer/playbook.js';
import { recipe } from './recipe-factory.js';
import { FIXTURE_BAKERY } from './representative-recipes.js';
import { HOSTILE } from './hostile-values.js';

const location = { file: '/srv/bakery/recipes/web.yaml', line: 5, col: 5 };

/** The Python that runs ansible-playbook (its shebang): the one that has Ansible's modules. */
async function ansiblePython(): Promise<string> {
  const { stdout } = await execa('sh', ['-c', 'head -1 "$(command -v ansible-playbook)"']);
  return stdout
    .replace(/^#!\s*/, '')
    .trim()
    .split(/\s+/)[0];
}

/** The playbook as Ansible's own YAML loader (PyYAML, YAML 1.1, with `!unsafe`) reads it. */
async function readAsAnsible(text: string): Promise<any> {
  const script =
    'import json, sys\nfrom ansible.parsing.yaml.loader import AnsibleLoader\nprint(json.dumps(AnsibleLoader(sys.stdin.read()).get_single_data()))';
  const { stdout } = await execa(await ansiblePython(), ['-c', script], { input: text });
  return JSON.parse(stdout);
}

describe('the generated playbook', () => {
  it('runs the roles in recipe order, each with its own vars, as root on every host', async () => {
    const r = recipe({
      roles: [
        { name: 'nginx', vars: { nginx_port: 8080 }, location },
        { name: 'common', vars: {}, location },
        { name: 'node_exporter', vars: { port: 9100, flags: ['--a', '--b'] }, location },
      ],
    });
    const [play] = await readAsAnsible(renderPlaybook(r, []));
    expect(play).toMatchObject({ hosts: 'all', become: true });
    expect(play.roles).toEqual([
      { role: 'nginx', vars: { nginx_port: 8080 } },
      { role: 'common' },
      { role: 'node_exporter', vars: { port: 9100, flags: ['--a', '--b'] } },
    ]);
    // Only the package manifest's tasks, which run only when the build passes bake's SBOM writer.
    expect(play.tasks.map((task: any) => task.when)).toEqual(
      Array(5).fill('bake_sbom_writer | default("") | length > 0'),
    );
  });

  it('ends by listing the installed packages, having bake write the SBOM on this machine and installing it into the image', async () => {
    const [play] = await readAsAnsible(renderPlaybook(recipe(), []));
    const [list, keep, write, , install] = play.tasks;
    expect(list['ansible.builtin.command'].argv).toEqual([
      'dpkg-query',
      '-W',
      '-f',
      '${Package}\t${Version}\t${Architecture}\n',
    ]);
    expect(keep).toMatchObject({ delegate_to: 'localhost', become: false });
    // argv, never a shell line: paths and the recipe name cannot become shell code.
    expect(write['ansible.builtin.command'].argv.slice(0, 3)).toEqual([
      '{{ bake_node }}',
      '{{ bake_sbom_writer }}',
      '{{ playbook_dir }}/packages.tsv',
    ]);
    expect(install['ansible.builtin.copy']).toMatchObject({
      src: '{{ playbook_dir }}/packages.cdx.json',
      dest: '/usr/share/bake/packages.cdx.json',
      mode: '0644',
    });
  });

  it('installs each rendered cloud-init file into /etc/cloud/cloud.cfg.d with mode 0644', async () => {
    const [play] = await readAsAnsible(renderPlaybook(recipe(), ['90-bake-web.cfg', '91-bake-extra.cfg']));
    const copies = play.tasks
      .filter((task: any) => task['ansible.builtin.copy']?.dest.startsWith('/etc/cloud/'))
      .map((task: any) => task['ansible.builtin.copy']);
    expect(copies).toEqual([
      {
        src: 'cloud-init/90-bake-web.cfg',
        dest: '/etc/cloud/cloud.cfg.d/90-bake-web.cfg',
        owner: 'root',
        group: 'root',
        mode: '0644',
      },
      {
        src: 'cloud-init/91-bake-extra.cfg',
        dest: '/etc/cloud/cloud.cfg.d/91-bake-extra.cfg',
        owner: 'root',
        group: 'root',
        mode: '0644',
      },
    ]);
  });

  it('keeps string vars strings for YAML 1.1 ("yes", "on", "0644", "~") and hostile text exact', async () => {
    const vars = {
      enabled: 'yes',
      switch: 'on',
      mode: '0644',
      nothing: '~',
      date: '2001-01-01',
      real_bool: true,
      number: 3,
      nested: { list: HOSTILE },
      odd: 'c1 \u0085 \u0090 \ufffe 🍞',
      'key \u007f del': 'v',
      'key: with colon': '- not a list',
    };
    const [play] = await readAsAnsible(renderPlaybook(recipe({ roles: [{ name: 'app', vars, location }] }), []));
    expect(play.roles[0].vars).toEqual(vars);
  });

  it("refuses a lone UTF-16 surrogate, which Ansible's loader cannot read", () => {
    expect(() =>
      renderPlaybook(recipe({ roles: [{ name: 'app', vars: { v: 'lone \ud800' }, location }] }), []),
    ).toThrow(/unpaired UTF-16 surrogate/);
  });

  it('hands every recipe value to Ansible as !unsafe data: Jinja in a role var is never evaluated', async () => {
    const vars = {
      greeting: "{{ lookup('pipe','id') }}",
      nested: { list: ['{% raw %}x', "{{ lookup('env','HOME') }}"], n: 3 },
    };
    const text = renderPlaybook(recipe({ roles: [{ name: 'app', vars, location }] }), []);
    expect(text).toContain(`greeting: !unsafe "{{ lookup('pipe','id') }}"`);
    const [play] = await readAsAnsible(text);
    expect(play.roles[0].vars).toEqual(vars);
  });

  it('cannot be broken out of by a hostile recipe name', async () => {
    const text = renderPlaybook(recipe({ name: 'web"\n- hosts: evil\n#' }), []);
    const plays = await readAsAnsible(text);
    expect(plays).toHaveLength(1);
    expect(plays[0].name).toBe('bake web"\n- hosts: evil\n#');
  });

  it('passes ansible-playbook --syntax-check with the bakery roles', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-playbook-'));
    const r = recipe({
      roles: [
        { name: 'nginx', vars: { nginx_port: 8080 }, location },
        { name: 'node_exporter', vars: { port: 9100 }, location },
      ],
    });
    await mkdir(path.join(dir, 'cloud-init'));
    await writeFile(path.join(dir, 'cloud-init', '90-bake-web.cfg'), '#cloud-config\n');
    await writeFile(path.join(dir, 'playbook.yml'), renderPlaybook(r, ['90-bake-web.cfg']));
    const result = await execa(
      'ansible-playbook',
      ['--syntax-check', '-i', 'localhost,', path.join(dir, 'playbook.yml')],
      {
        env: {
          ANSIBLE_ROLES_PATH: path.join(FIXTURE_BAKERY, 'roles'),
          ANSIBLE_NOCOLOR: '1',
          ANSIBLE_LOCAL_TEMP: path.join(dir, 'tmp'),
        },
        reject: false,
        all: true,
      },
    );
    expect(result.all).not.toMatch(/ERROR/);
    expect(result.exitCode).toBe(0);
  });
});
