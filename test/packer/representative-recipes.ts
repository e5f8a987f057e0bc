/**
 * The recipes the golden files show: a base image from an AMI id, a web image built FROM it
 * with everything switched on, and a Debian image from a name filter.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bakery, Role } from '../../src/recipes/model.js';
import type { RenderedCloudInitFile } from '../../src/packer/render.js';
import { bakery, recipe } from './recipe-factory.js';

export const FIXTURE_BAKERY = fileURLToPath(new URL('../fixtures/packer/bakery', import.meta.url));
export const GOLDEN_DIR = fileURLToPath(new URL('../fixtures/packer/golden', import.meta.url));

const at = (root: string, file: string, line: number) => ({ file: path.join(root, 'recipes', file), line, col: 3 });

export function representativeBakery(root = '/srv/bakery'): Bakery {
  const base = recipe({
    name: 'base',
    description: 'Debian 12 with the common role',
    file: path.join(root, 'recipes/base.yaml'),
    base: { kind: 'ami', ami: 'ami-0b5a4445ada4a59b1' },
    regions: ['us-east-1'],
    roles: [{ name: 'common', vars: {}, location: at(root, 'base.yaml', 6) }],
    tags: { team: 'platform' },
    imdsv2: true,
    verify: [
      { kind: 'package', name: 'openssh-server', location: at(root, 'base.yaml', 9) },
      { kind: 'file', path: '/etc/os-release', contains: 'bookworm', location: at(root, 'base.yaml', 10) },
    ],
  });
  const web = recipe({
    name: 'web',
    description: 'nginx front end',
    file: path.join(root, 'recipes/web.yaml'),
    base: { kind: 'recipe', recipe: 'base' },
    regions: ['us-east-1', 'eu-west-1'],
    instanceType: 't3.small',
    roles: [
      {
        name: 'nginx',
        vars: { nginx_port: 8080, server_names: ['example.org', 'www.example.org'] },
        location: at(root, 'web.yaml', 8),
      },
      { name: 'node_exporter', vars: { port: 9100 }, location: at(root, 'web.yaml', 9) },
    ],
    cloudInit: [{ template: 'web.yaml.hbs', vars: { service: 'nginx' }, location: at(root, 'web.yaml', 12) }],
    tags: { team: 'frontend', 'cost-center': '42' },
    subnetId: 'subnet-0abc1234',
    volumeSizeGb: 16,
    encrypted: true,
    kmsKeyIds: {
      'us-east-1': 'alias/bake-images',
      'eu-west-1': 'arn:aws:kms:eu-west-1:123456789012:alias/bake-images',
    },
    imdsv2: true,
    shareWith: ['123456789012', 'arn:aws:organizations::111122223333:organization/o-a1b2c3d4e5'],
    verify: [
      { kind: 'service', name: 'nginx', location: at(root, 'web.yaml', 20) },
      { kind: 'port', port: 8080, location: at(root, 'web.yaml', 21) },
      {
        kind: 'command',
        command: 'curl -fsS http://127.0.0.1:8080/ | grep -q "Welcome"',
        location: at(root, 'web.yaml', 22),
      },
    ],
  });
  const debian = recipe({
    name: 'debian',
    description: 'Plain Debian from the official images',
    file: path.join(root, 'recipes/debian.yaml'),
    base: { kind: 'filter', name: 'debian-12-amd64-*', owners: ['136693071363'] },
    regions: ['eu-central-1'],
    sshUsername: 'admin',
    roles: [{ name: 'common', vars: {}, location: at(root, 'debian.yaml', 7) }],
  });
  const roles = new Map<string, Role>(
    ['common', 'nginx', 'node_exporter'].map((name) => [
      name,
      {
        name,
        dir: path.join(root, 'roles', name),
        dependencies: name === 'nginx' ? ['common'] : [],
        source: 'local' as const,
      },
    ]),
  );
  return bakery([base, debian, web], { root, roles });
}

/** Stands in for src/cloud-init/render.ts: one drop-in per template, named after it. */
export async function renderCloudInitStandIn(
  _bakery: Bakery,
  r: { cloudInit: { template: string; vars: Record<string, unknown> }[] },
): Promise<RenderedCloudInitFile[]> {
  return r.cloudInit.map((use) => ({
    template: use.template,
    fileName: `90-bake-${use.template.replace(/\.yaml\.hbs$/, '')}.cfg`,
    content: `#cloud-config\nruncmd:\n  - [systemctl, restart, ${String(use.vars.service)}]\n`,
  }));
}
