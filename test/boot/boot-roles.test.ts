/**
 * `boot:` roles: what `bake render` puts beside the build playbook to be baked into the image,
 * and — run for real on this machine with ansible-playbook — that the baked playbook runs the
 * roles with the instance's variables from its cloud-config user-data, templates left alone.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BOOT_DIR, BOOT_SCRIPT } from '../../src/boot/boot-files.js';
import { renderRecipe } from '../../src/packer/render.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { tempBakery } from '../recipes/temp-bakery.js';

async function bootBakery(varsFromUserData: boolean) {
  return tempBakery({
    'recipes/app.yaml': [
      'name: app',
      'base: { ami: ami-0123456789abcdef0 }',
      'roles: [app_config]',
      'boot:',
      '  roles: [{ name: app_config, vars: { app_port: 8080 } }]',
      `  vars_from_user_data: ${varsFromUserData}`,
      '',
    ].join('\n'),
    'roles/app_config/meta/main.yml': 'dependencies: [app_base]\n',
    'roles/app_config/defaults/main.yml': 'app_env: baked\napp_out: /etc/app.conf\n',
    'roles/app_config/tasks/main.yml':
      '- ansible.builtin.copy: { content: "env={{ app_env }} port={{ app_port }}\\n", dest: "{{ app_out }}", mode: "0644" }\n',
    'roles/app_base/tasks/main.yml': '- ansible.builtin.debug: { msg: base }\n',
  });
}

/** What the instance's boot script does, here: the user-data's variables, then the baked playbook with them. */
async function runBootPlaybook(boot: string, cloudConfig: string, scratch: string): Promise<void> {
  const vars = await execa('python3', [path.join(boot, 'user-data-vars.py'), cloudConfig], { reject: false });
  expect(vars.exitCode, vars.stderr).toBe(0);
  const varsFile = path.join(scratch, 'vars.yml');
  await writeFile(varsFile, vars.stdout);
  // The baked playbook reads /run/bake-boot/vars.yml, where the instance's script writes; here it reads the scratch copy.
  const playbook = (await readFile(path.join(boot, 'playbook.yml'), 'utf8')).replace(
    '/run/bake-boot/vars.yml',
    varsFile,
  );
  await writeFile(path.join(boot, 'playbook.yml'), playbook);
  const play = await execa('ansible-playbook', ['-i', 'localhost,', '-c', 'local', path.join(boot, 'playbook.yml')], {
    reject: false,
    all: true,
    env: { ANSIBLE_ROLES_PATH: path.join(boot, 'roles'), ANSIBLE_NOCOLOR: '1' },
  });
  expect(play.exitCode, play.all).toBe(0);
}

describe('boot roles, rendered', () => {
  it('puts the boot playbook, the per-instance script, the user-data helper and every boot role (dependencies too) beside the build playbook', async () => {
    const root = await bootBakery(true);
    const bakery = await loadBakery(root);
    const rendered = await renderRecipe(bakery, bakery.recipes[0], path.join(root, 'out'), { shape: 'legacy' });
    const boot = path.join(rendered.dir, 'boot');
    expect(existsSync(path.join(boot, 'roles/app_config/tasks/main.yml'))).toBe(true);
    expect(existsSync(path.join(boot, 'roles/app_base/tasks/main.yml'))).toBe(true);
    expect(statSync(path.join(boot, 'bake-boot.sh')).mode & 0o111).not.toBe(0);
    const [play] = parse(await readFile(path.join(boot, 'playbook.yml'), 'utf8')) as Array<Record<string, unknown>>;
    expect(play).toMatchObject({
      hosts: 'localhost',
      connection: 'local',
      vars_files: ['/run/bake-boot/vars.yml'],
      roles: [{ role: 'app_config', vars: { app_port: 8080 } }],
    });

    const [build] = parse(await readFile(rendered.playbook, 'utf8')) as Array<{
      tasks: Array<Record<string, Record<string, unknown>>>;
    }>;
    const copies = build.tasks.flatMap((task) => (task['ansible.builtin.copy'] ? [task['ansible.builtin.copy']] : []));
    expect(copies).toContainEqual(expect.objectContaining({ src: 'boot/', dest: `${BOOT_DIR}/` }));
    expect(copies).toContainEqual(
      expect.objectContaining({ src: 'boot/bake-boot.sh', dest: BOOT_SCRIPT, mode: '0755' }),
    );
    expect(build.tasks.some((task) => task['ansible.builtin.apt']?.name === 'ansible-core')).toBe(true);
    const check = await execa('ansible-playbook', ['--syntax-check', rendered.playbook], {
      reject: false,
      all: true,
      env: { ANSIBLE_ROLES_PATH: path.join(root, 'roles') },
    });
    expect(check.exitCode, check.all).toBe(0);
  });

  it('runs the boot roles with the variables of the user-data, whatever they hold', async () => {
    const root = await bootBakery(true);
    const bakery = await loadBakery(root);
    const rendered = await renderRecipe(bakery, bakery.recipes[0], path.join(root, 'out'), { shape: 'legacy' });
    const boot = path.join(rendered.dir, 'boot');
    const scratch = await mkdtemp(path.join(tmpdir(), 'bake-boot-run-'));
    const out = path.join(scratch, 'app.conf');
    const cloudConfig = path.join(scratch, 'cloud-config.txt');
    await writeFile(
      cloudConfig,
      `#cloud-config\nruncmd: [echo hi]\nbake_vars:\n  app_env: "test {{ lookup('pipe', 'id') }}"\n  app_out: ${JSON.stringify(out)}\n`,
    );
    await runBootPlaybook(boot, cloudConfig, scratch);
    expect(await readFile(out, 'utf8')).toBe(`env=test {{ lookup('pipe', 'id') }} port=8080\n`);

    const noUserData = await execa('python3', [
      path.join(boot, 'user-data-vars.py'),
      path.join(scratch, 'missing.txt'),
    ]);
    expect(noUserData.stdout).toBe('');
    await writeFile(cloudConfig, '#cloud-config\nbake_vars: { "bad-name": 1 }\n');
    const bad = await execa('python3', [path.join(boot, 'user-data-vars.py'), cloudConfig], { reject: false });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain("bake_vars: 'bad-name' is not an Ansible variable name");
  });

  it('passes nested mappings and lists, and dates, of the user-data to the roles with their strings untemplated', async () => {
    const root = await tempBakery({
      'recipes/app.yaml':
        'name: app\nbase: { ami: ami-0123456789abcdef0 }\nroles: [app_config]\nboot:\n  roles: [app_config]\n  vars_from_user_data: true\n',
      'roles/app_config/defaults/main.yml': 'app_out: /etc/app.conf\n',
      'roles/app_config/tasks/main.yml': [
        '- ansible.builtin.copy:',
        '    dest: "{{ app_out }}"',
        '    mode: "0644"',
        "    content: \"peers={{ app_peers | join(',') }} db={{ app_db.host }}:{{ app_db.port }} opts={{ app_db.opts | join('|') }} flags={{ app_db.flags }} since={{ app_since }}\\n\"",
        '',
      ].join('\n'),
    });
    const bakery = await loadBakery(root);
    const rendered = await renderRecipe(bakery, bakery.recipes[0], path.join(root, 'out'), { shape: 'legacy' });
    const boot = path.join(rendered.dir, 'boot');
    const scratch = await mkdtemp(path.join(tmpdir(), 'bake-boot-nested-'));
    const out = path.join(scratch, 'app.conf');
    const cloudConfig = path.join(scratch, 'cloud-config.txt');
    // The documented example (a list), a nested mapping with a templated-looking string, and an unquoted date.
    await writeFile(
      cloudConfig,
      [
        '#cloud-config',
        'bake_vars:',
        '  app_peers: [10.0.1.10, 10.0.1.11]',
        '  app_db:',
        '    host: db.internal',
        '    port: 5432',
        `    opts: ["{{ lookup('pipe', 'id') }}", "sslmode=require", "\\x7f\\u2028"]`,
        '    flags: { fast: true }',
        '  app_since: 2026-12-07',
        `  app_out: ${JSON.stringify(out)}`,
        '',
      ].join('\n'),
    );
    await runBootPlaybook(boot, cloudConfig, scratch);
    expect(await readFile(out, 'utf8')).toBe(
      `peers=10.0.1.10,10.0.1.11 db=db.internal:5432 opts={{ lookup('pipe', 'id') }}|sslmode=require|\x7f\u2028 flags={'fast': True} since=2026-12-07\n`,
    );
  });

  it('refuses ansible_* and Ansible magic variable names in bake_vars, so user-data never picks the interpreter Ansible runs', async () => {
    const root = await bootBakery(true);
    const bakery = await loadBakery(root);
    const rendered = await renderRecipe(bakery, bakery.recipes[0], path.join(root, 'out'), { shape: 'legacy' });
    const script = path.join(rendered.dir, 'boot', 'user-data-vars.py');
    const scratch = await mkdtemp(path.join(tmpdir(), 'bake-boot-reserved-'));
    const cloudConfig = path.join(scratch, 'cloud-config.txt');
    for (const name of ['ansible_python_interpreter', 'ansible_shell_executable', 'hostvars', 'omit', 'playbook_dir']) {
      await writeFile(
        cloudConfig,
        `#cloud-config\nbake_vars:\n  app_env: ok\n  ${name}: "/bin/sh -c 'touch ${scratch}/ran'"\n`,
      );
      const run = await execa('python3', [script, cloudConfig], { reject: false });
      expect(run.exitCode, name).not.toBe(0);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim()).toBe(
        `bake-boot: bake_vars: '${name}' is a name Ansible reserves for itself (ansible_*, magic variables); choose another`,
      );
    }
  });

  it('leaves recipes without boot: as they were', async () => {
    const root = await tempBakery({
      'recipes/app.yaml': 'name: app\nbase: { ami: ami-0123456789abcdef0 }\nroles: [r]\n',
      'roles/r/tasks/main.yml': '- ansible.builtin.debug: { msg: r }\n',
    });
    const bakery = await loadBakery(root);
    const rendered = await renderRecipe(bakery, bakery.recipes[0], path.join(root, 'out'), { shape: 'legacy' });
    expect(existsSync(path.join(rendered.dir, 'boot'))).toBe(false);
    expect(await readFile(rendered.playbook, 'utf8')).not.toContain('boot');
  });
});
