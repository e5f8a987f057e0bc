/**
 * Hostile recipe values through a real bake: `bake build --local` with real Packer 1.6.6 and real
 * Ansible. Packer's Go template engine must not see the description or tags (it evaluated
 * `{{ pwd }}` and failed on `{{ .Nope }}` after provisioning), Ansible must not template role
 * vars (`lookup('pipe', …)` ran on the agent), and roles must not see the agent's credentials.
 * The verify checks run inside the build, so a leak fails the bake itself.
 */
import path from 'node:path';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bake, bakeEnv, temporaryBakery, withLocalCloud } from './local-bakery.js';

const DESCRIPTION = `desc {{ uuid }} {{ pwd }} }} {{"{{"}} {{{{ end`;
const RECIPE = `name: hostile
description: '${DESCRIPTION.replace(/'/g, "''")}'
base: { filter: { name: "debian-12-amd64-*", owners: ["136693071363"] } }
regions: [us-east-1]
instance_type: t3.micro
encrypted: false
imdsv2: false
roles:
  - name: greet
    vars: { greeting: "{{ lookup('pipe','id') }}" }
tags:
  nope: '{{ .Nope }}'
  'k {{ .Nope }}': 'v {{ timestamp }}'
verify:
  - file: /root/greeting
    contains: "{{ lookup('pipe','id') }}"
  - command: grep -qx 'secret=' /root/agent-env
`;
const ROLE = `- ansible.builtin.copy: { dest: /root/greeting, content: "{{ greeting }}" }
- ansible.builtin.copy: { dest: /root/agent-env, content: "secret={{ lookup('env', 'AWS_SECRET_ACCESS_KEY') }}{{ lookup('env', 'AGENT_SECRET') }}\\n" }
`;

describe('bake build --local with hostile recipe values', () => {
  it('bakes them as literal text: description and tags on the AMI byte for byte, role vars untemplated, no agent secret in the image', async () => {
    const dir = await temporaryBakery('bake-e2e-hostile-', {
      files: { 'recipes/hostile.yaml': RECIPE, 'roles/greet/tasks/main.yml': ROLE },
    });

    const env = bakeEnv({ AGENT_SECRET: 'agent-secret-value' });
    const started = Date.now();
    const build = await execa('node', [bake, 'build', '--local', '--dir', dir, '--json'], { env, reject: false });
    console.log(`bake build --local (hostile values): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(build.exitCode, build.stderr.slice(-3000)).toBe(0);
    const [recipe] = (JSON.parse(build.stdout) as { recipes: { status: string; amis: Record<string, string> }[] })
      .recipes;
    expect(recipe.status).toBe('built');

    await withLocalCloud(path.join(dir, '.bake/local'), async (ec2) => {
      const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [recipe.amis['us-east-1']] }))).Images!;
      expect(image.Description).toBe(DESCRIPTION);
      const tags = Object.fromEntries((image.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({
        nope: '{{ .Nope }}',
        'k {{ .Nope }}': 'v {{ timestamp }}',
        'bake:recipe': 'hostile',
        'bake:bakery': path.basename(dir),
      });
    });
  });
});
