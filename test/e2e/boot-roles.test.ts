/**
 * `boot:` roles for real: `bake build --local` (real Packer 1.6.6, real Ansible) bakes the boot
 * roles, their playbook, Ansible and the cloud-init per-instance script into the image. bake's
 * own launch test then boots the image with the recipe's test user-data: cloud-init runs the
 * boot roles at first boot, and the checks on the booted machine see the user-data's variables.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bake, bakeEnv, temporaryBakery } from './local-bakery.js';

// Jinja in an instance variable must reach the role as text, never be templated by Ansible.
const TEST_ENV = 'launch-test {{ not templated }}';

interface BuildJson {
  recipes: Array<{
    status: string;
    launch_test?: { status: string; checks: Array<{ check: string; status: string }> };
  }>;
}

describe('bake build --local with boot roles', () => {
  it('bakes the roles for first boot, and the launch test sees them run with its user-data variables', async () => {
    const files: Record<string, string> = {
      'bake.config.yaml': 'regions: [us-east-1]\nencrypted: false\n',
      'recipes/app.yaml': [
        'name: app',
        'base: { ssm: /aws/service/debian/release/12/latest/amd64 }',
        'roles: [app_config]',
        'boot:',
        '  roles: [app_config]',
        '  vars_from_user_data: true',
        'verify:',
        '  - file: /var/lib/cloud/scripts/per-instance/bake-boot',
        '  - file: /opt/bake/boot/roles/app_config/tasks/main.yml',
        '  - command: ansible-playbook --version',
        'launch_test:',
        '  user_data:',
        '    - template: app-user-data.yaml.hbs',
        `      vars: { env: ${JSON.stringify(TEST_ENV)} }`,
        '  checks:',
        '    - file: /etc/app.conf',
        `      contains: ${JSON.stringify(`env=${TEST_ENV}`)}`,
        // The documented nested example: a list and a mapping reach the role whole, a date as text.
        '    - file: /etc/app.conf',
        `      contains: ${JSON.stringify('peers=10.0.1.10,10.0.1.11 db=db.internal:5432 since=2026-12-07')}`,
        `    - command: ${JSON.stringify('grep -q "bake-boot: " /var/log/bake-boot.log')}`,
        '',
      ].join('\n'),
      // The stack's user-data: the boot roles' variables under bake_vars.
      'cloud-init/app-user-data.yaml.hbs':
        '#cloud-config\nbake_vars:\n  app_env: {{env}}\n  app_peers: [10.0.1.10, 10.0.1.11]\n  app_db: { host: db.internal, port: 5432 }\n  app_since: 2026-12-07\n',
      'roles/app_config/defaults/main.yml':
        'app_env: baked\napp_peers: []\napp_db: { host: none, port: 0 }\napp_since: never\n',
      'roles/app_config/tasks/main.yml':
        '- ansible.builtin.copy: { content: "env={{ app_env }}\\npeers={{ app_peers | join(\',\') }} db={{ app_db.host }}:{{ app_db.port }} since={{ app_since }}\\n", dest: /etc/app.conf, mode: "0644" }\n',
    };
    const dir = await temporaryBakery('bake-e2e-boot-', { files, git: false });
    const build = await execa('node', [bake, 'build', '--local', '--dir', dir, '--json'], {
      env: bakeEnv(),
      reject: false,
      all: true,
    });
    expect(build.exitCode, build.all.slice(-4000)).toBe(0);
    const [app] = (JSON.parse(build.stdout) as BuildJson).recipes;
    expect(app.status).toBe('built');
    expect(app.launch_test?.status).toBe('passed');
    const checks = Object.fromEntries(app.launch_test!.checks.map((c) => [c.check, c.status]));
    expect(Object.keys(checks).find((c) => c.includes('/etc/app.conf'))).toBeDefined();
    // The role wrote env=baked at bake time: only the boot run, with the user-data's value, passes this.
    expect(Object.values(checks).every((s) => s === 'passed')).toBe(true);
  });
});
