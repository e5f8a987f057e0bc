import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { discoverRoles, listRoleFiles } from '../../src/roles/index.js';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const exampleRoles = ['common', 'hardening', 'nginx', 'node_exporter', 'worker'];

/** Temporary folders of this file, removed at its end: the suite leaves nothing on the machine. */
const made: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** `ansible-playbook --syntax-check` of a one-role playbook, the way bake's playbook includes roles. */
async function syntaxCheck(rolesPath: string, role: string): Promise<{ ok: boolean; output: string }> {
  const dir = await tempDir('bake-role-');
  const playbook = path.join(dir, 'playbook.yml');
  await writeFile(playbook, `- hosts: all\n  gather_facts: false\n  become: true\n  roles:\n    - ${role}\n`);
  try {
    const { stdout, stderr } = await run('ansible-playbook', ['-i', 'localhost,', '--syntax-check', playbook], {
      env: { ...process.env, ANSIBLE_ROLES_PATH: rolesPath, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCAL_TEMP: dir, ANSIBLE_HOME: dir },
    });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout: string; stderr: string };
    return { ok: false, output: e.stdout + e.stderr };
  }
}

/**
 * A `sshd -t` that depends on nothing the host's own sshd made or left: run as root, sshd refuses
 * to check anything without its privilege separation directory, /run/sshd, which only a running
 * sshd creates (a fresh machine or CI runner has none), and without host keys. The check gets a
 * mount namespace of its own with a private /run holding that directory, and a host key of the
 * test's, so it neither needs the host's nor leaves anything on it. Returns the command to run
 * with the config file as its argument.
 */
async function sshdConfigCheck(dir: string): Promise<string> {
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bake sshd -t', '-f', hostKey]);
  const script = path.join(dir, 'sshd-check');
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'set -eu',
      `exec unshare --mount --propagation private /bin/sh -euc 'mount -t tmpfs -o mode=0755 bake-sshd-check /run && mkdir -m 0755 /run/sshd && exec /usr/sbin/sshd -t -f "$1" -o HostKey="$2"' sshd-check "$1" ${shellQuote(hostKey)}`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return script;
}

const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

describe('the example roles', () => {
  it.each(exampleRoles)('%s passes ansible-playbook --syntax-check', async (role) => {
    const result = await syntaxCheck(path.join(repo, 'roles'), role);
    expect(result.output).not.toMatch(/ERROR/);
    expect(result.ok).toBe(true);
  });

  it('fails the syntax check when a role is broken (so the checks above mean something)', async () => {
    const roles = await tempDir('bake-roles-');
    await cp(path.join(repo, 'roles/nginx'), path.join(roles, 'nginx'), { recursive: true });
    await writeFile(path.join(roles, 'nginx/tasks/main.yml'), '- name: Broken\n  ansible.builtin.apt:\n    name: nginx\n  no_such_keyword: true\n');
    const result = await syntaxCheck(roles, 'nginx');
    expect(result.ok).toBe(false);
  });

  it('render their templates with their defaults, and the sshd hardening passes `sshd -t`', async () => {
    const out = await tempDir('bake-role-templates-');
    const sshdCheck = await sshdConfigCheck(out);
    const tasks: object[] = [];
    for (const name of exampleRoles) {
      const role = (await discoverRoles(repo)).roles.get(name)!;
      for (const file of (await listRoleFiles(role)).filter((f) => f.startsWith('templates/'))) {
        tasks.push({
          name: `${name} ${file}`,
          'ansible.builtin.template': {
            src: path.join(role.dir, file),
            dest: path.join(out, `${name}-${path.basename(file, '.j2')}`),
            ...(name === 'hardening' ? { validate: `${sshdCheck} %s` } : {}),
          },
          vars: parse(await readFile(path.join(role.dir, 'defaults/main.yml'), 'utf8')),
        });
      }
    }
    const playbook = path.join(out, 'render.yml');
    await writeFile(playbook, JSON.stringify([{ hosts: 'localhost', connection: 'local', gather_facts: false, tasks }]));
    await run('ansible-playbook', ['-i', 'localhost,', playbook], { env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_HOME: out, ANSIBLE_LOCAL_TEMP: out } });
    expect(await readFile(path.join(out, 'hardening-hardening.conf'), 'utf8')).toContain('PasswordAuthentication no');
    expect(await readFile(path.join(out, 'worker-worker.service'), 'utf8')).toContain('Environment=WORKER_QUEUE=default WORKER_CONCURRENCY=2');
  });

  it('check sshd configs with a `sshd -t` that refuses a bad one, needs nothing of the host’s sshd and leaves nothing behind', async () => {
    const dir = await tempDir('bake-sshd-check-');
    const check = await sshdConfigCheck(dir);
    const runDirBefore = existsSync('/run/sshd');
    await writeFile(path.join(dir, 'good.conf'), 'PasswordAuthentication no\n');
    await writeFile(path.join(dir, 'bad.conf'), 'PasswordAuthentication no\nNoSuchOption yes\n');
    await expect(run(check, [path.join(dir, 'good.conf')])).resolves.toBeDefined();
    const bad = await run(check, [path.join(dir, 'bad.conf')]).catch((error: { stderr: string }) => error);
    expect((bad as { stderr?: string }).stderr).toMatch(/Bad configuration option: NoSuchOption/i);
    expect(existsSync('/run/sshd')).toBe(runDirBefore);
  });

  it('each has tasks, handlers, defaults and meta, and templates where it writes config', async () => {
    const { roles, errors } = await discoverRoles(repo);
    expect(errors).toEqual([]);
    for (const name of exampleRoles) {
      const files = await listRoleFiles(roles.get(name)!);
      expect(files, name).toEqual(expect.arrayContaining(['tasks/main.yml', 'handlers/main.yml', 'defaults/main.yml', 'meta/main.yml']));
      expect(files.some((f) => f.startsWith('templates/')), name).toBe(true);
    }
  });

  it('only enable services: nothing starts, stops, restarts or reloads one while baking in a chroot', async () => {
    const offending: string[] = [];
    for (const name of exampleRoles) {
      for (const file of ['tasks/main.yml', 'handlers/main.yml']) {
        const tasks = (parse(await readFile(path.join(repo, 'roles', name, file), 'utf8')) ?? []) as Record<string, unknown>[];
        for (const task of tasks) {
          for (const module of ['ansible.builtin.systemd', 'ansible.builtin.service', 'systemd', 'service', 'ansible.builtin.systemd_service']) {
            const args = task[module] as { state?: string } | undefined;
            if (args?.state) offending.push(`${name}/${file}: ${String(task.name)} (${args.state})`);
          }
        }
      }
    }
    expect(offending).toEqual([]);
  });
});
