/**
 * Recipe values are data and the agent's environment stays out: the rendered playbook and the
 * `ansible-playbook.sh` Packer runs, executed for real against this machine (connection local).
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRecipe } from '../../src/packer/render.js';
import { bakery, recipe } from './recipe-factory.js';

const location = { file: '/srv/bakery/recipes/app.yaml', line: 1, col: 1 };
// What the role writes: the var as it reached the role, and what the role can read from its environment.
const ROLE_TASKS = `- ansible.builtin.copy:
    dest: "{{ out_dir }}/greeting"
    content: "{{ greeting }}"
- ansible.builtin.copy:
    dest: "{{ out_dir }}/env"
    content: "secret={{ lookup('env', 'AWS_SECRET_ACCESS_KEY') }} token={{ lookup('env', 'GITHUB_TOKEN') }} proxy={{ lookup('env', 'HTTPS_PROXY') }} home={{ lookup('env', 'HOME') }}"
`;

let root: string;
let out: string;
let rendered: Awaited<ReturnType<typeof renderRecipe>>;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'bake-ansible-data-'));
  out = path.join(root, 'out');
  await mkdir(path.join(root, 'roles/greet/tasks'), { recursive: true });
  await writeFile(path.join(root, 'roles/greet/tasks/main.yml'), ROLE_TASKS);
  await mkdir(out);
  const app = recipe({
    name: 'app',
    roles: [{ name: 'greet', vars: { greeting: "{{ lookup('pipe','id') }} {{ 7 * 6 }}", out_dir: out }, location }],
    ansibleEnv: ['HTTPS_PROXY'],
  });
  const b = bakery([app], { root });
  b.roles.set('greet', { name: 'greet', dir: path.join(root, 'roles/greet'), dependencies: [], source: 'local' });
  rendered = await renderRecipe(b, app, path.join(root, 'render'), { shape: 'legacy' });
  // As Packer runs it: its own environment (here: an agent's secrets) plus ansible_env_vars.
  const run = await execa(rendered.ansibleCommand, ['-i', 'localhost,', '-c', 'local', rendered.playbook], {
    env: {
      ANSIBLE_ROLES_PATH: path.join(root, 'roles'),
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      AWS_SECRET_ACCESS_KEY: 'agent-secret-key',
      GITHUB_TOKEN: 'agent-token',
      HTTPS_PROXY: 'http://proxy.example:3128',
    },
    reject: false,
    all: true,
  });
  expect(run.exitCode, run.all).toBe(0);
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Ansible gets recipe values as data, in a scrubbed environment', () => {
  it("passes greeting: \"{{ lookup('pipe','id') }}\" to the role as that text: no command runs on the agent", async () => {
    expect(await readFile(path.join(out, 'greeting'), 'utf8')).toBe("{{ lookup('pipe','id') }} {{ 7 * 6 }}");
  });

  it("keeps the agent's AWS credentials and other variables from the roles, passing only what the recipe names", async () => {
    const env = await readFile(path.join(out, 'env'), 'utf8');
    expect(env).toMatch(/^secret= token= proxy=http:\/\/proxy\.example:3128 home=/);
    expect(env).not.toContain('agent-secret-key');
    expect(env).not.toContain('agent-token');
  });

  it('writes the wrapper from checked names only, and the template runs it', async () => {
    const script = await readFile(rendered.ansibleCommand, 'utf8');
    expect(script).toContain('exec $dies_with_packer env -i');
    expect(script).toContain('${HTTPS_PROXY+"HTTPS_PROXY=$HTTPS_PROXY"}');
    expect(script).not.toContain('AWS_');
    expect(await readFile(rendered.template, 'utf8')).toContain(
      'command          = "${path.root}/ansible-playbook.sh"',
    );
  });
});
