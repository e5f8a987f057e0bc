import { parse } from '@cdktf/hcl2json';
import { describe, expect, it } from 'vitest';
import type { Recipe } from '../../src/recipes/model.js';
import { RecipeError } from '../../src/errors/index.js';
import { renderPackerTemplate, type TemplateInput } from '../../src/packer/template.js';
import type { PackerShape, PackerTarget } from '../../src/packer/target.js';
import { fromHcl2json } from '../../src/escape/hcl-string.js';
import { variableDefaults, type PackerVariables } from '../../src/packer/variables.js';
import { renderPlaybook } from '../../src/packer/playbook.js';
import { renderVerifyScript } from '../../src/packer/verify-script.js';
import { expectGolden } from './golden.js';
import { bakery, recipe } from './recipe-factory.js';
import { representativeBakery } from './representative-recipes.js';

const shop = representativeBakery();
const byName = (name: string) => shop.recipes.find((r) => r.name === name)!;

function render(r: Recipe, shape: PackerShape, target?: PackerTarget, variables?: Partial<PackerVariables>) {
  const input: TemplateInput = {
    bakery: shop.recipes.includes(r) ? shop : bakery([r]),
    recipe: r,
    shape,
    target,
    defaults: variableDefaults(r, variables),
  };
  return renderPackerTemplate(input);
}

type Hcl = Record<string, any>;
const parsed = async (text: string): Promise<Hcl> => (await parse('recipe.pkr.hcl', text)) as Hcl;
const sourceOf = (hcl: Hcl) => hcl.source['amazon-ebs'].recipe[0];

describe('golden templates', () => {
  for (const name of ['base', 'web', 'debian']) {
    for (const shape of ['legacy', 'modern'] as const) {
      it(`renders the ${name} recipe for ${shape} Packer as in its golden file`, async () => {
        await expectGolden(`${name}.${shape}.pkr.hcl`, render(byName(name), shape).text);
      });
    }
  }

  it('renders the web recipe for the local cloud as in its golden file', async () => {
    const local = render(byName('web'), 'legacy', { ec2Endpoint: 'http://127.0.0.1:45123', local: { sshPort: 2222 } });
    await expectGolden('web.local.pkr.hcl', local.text);
  });

  it('writes the web playbook and verify script as in their golden files', async () => {
    await expectGolden('web.playbook.yml', renderPlaybook(byName('web'), ['90-bake-web.cfg']));
    await expectGolden('web.verify.sh', renderVerifyScript(byName('web').verify));
  });
});

describe('the template for a recipe', () => {
  it('is the same text every time: per-build values are variables, not literals', () => {
    const first = render(byName('web'), 'legacy').text;
    expect(render(byName('web'), 'legacy').text).toBe(first);
    expect(first).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    for (const name of ['source_ami', 'fingerprint', 'git_commit', 'built_at', 'build_url', 'base_ami', 'parent_ami']) {
      expect(first).toContain(`variable "${name}" {`);
    }
  });

  it('declares the amazon and ansible plugins only for modern Packer', async () => {
    const modern = await parsed(render(byName('web'), 'modern').text);
    expect(modern.packer[0].required_plugins[0]).toEqual({
      amazon: { version: '>= 1.3.0', source: 'github.com/hashicorp/amazon' },
      ansible: { version: '>= 1.1.0', source: 'github.com/hashicorp/ansible' },
    });
    const legacy = await parsed(render(byName('web'), 'legacy').text);
    expect(legacy.packer).toBeUndefined();
  });

  it("builds in the first region only: copies to the others are bake's own step", async () => {
    for (const shape of ['legacy', 'modern'] as const) {
      const source = sourceOf(await parsed(render(byName('web'), shape).text));
      expect(source.region).toBe('us-east-1');
      expect(source.ami_regions).toBeUndefined();
    }
  });

  it('takes an AMI id base from the source_ami variable, defaulting to that id', async () => {
    const hcl = await parsed(render(byName('base'), 'legacy').text);
    expect(sourceOf(hcl).source_ami).toBe('${var.source_ami}');
    expect(hcl.variable.source_ami[0].default).toBe('ami-0b5a4445ada4a59b1');
    expect(hcl.variable.base_ami[0].default).toBe('ami-0b5a4445ada4a59b1');
  });

  it('leaves a filter base to Packer (source_ami_filter, hvm, ebs, most recent) while no source_ami is passed', async () => {
    const hcl = await parsed(render(byName('debian'), 'legacy').text);
    const source = sourceOf(hcl);
    expect(hcl.variable.source_ami[0].default).toBe('');
    expect(source.source_ami).toBe('${var.source_ami != "" ? var.source_ami : null}');
    expect(source.dynamic.source_ami_filter[0].for_each).toBe('${var.source_ami != "" ? [] : ["filter"]}');
    expect(source.dynamic.source_ami_filter[0].content[0]).toEqual({
      filters: { name: 'debian-12-amd64-*', 'virtualization-type': 'hvm', 'root-device-type': 'ebs' },
      owners: ['136693071363'],
      most_recent: true,
    });
  });

  it('tags a parent-built image with bake:parent and gives the parent AMI a placeholder offline', async () => {
    const web = await parsed(render(byName('web'), 'legacy').text);
    expect(web.variable.source_ami[0].default).toBe('ami-00000000000000000');
    expect(render(byName('web'), 'legacy').text).toMatch(/"bake:parent" += var\.parent_ami/);
    expect(render(byName('base'), 'legacy').text).not.toContain('bake:parent');
  });

  it('leaves sharing to bake on every shape, and names IMDSv2 as the one gap of Packer 1.6.6', async () => {
    for (const shape of ['legacy', 'modern'] as const) {
      const source = sourceOf(await parsed(render(byName('web'), shape).text));
      expect([source.ami_users, source.ami_org_arns, source.ami_ou_arns]).toEqual([undefined, undefined, undefined]);
    }
    expect(render(byName('web'), 'legacy').gaps.map((gap) => gap.setting)).toEqual(['imdsv2']);
    expect(render(byName('web'), 'modern').gaps).toEqual([]);
  });

  it('requires IMDSv2 on modern Packer and leaves it to the build on 1.6.6', async () => {
    const modern = sourceOf(await parsed(render(byName('base'), 'modern').text));
    expect(modern.imds_support).toBe('v2.0');
    expect(modern.metadata_options).toEqual([
      { http_endpoint: 'enabled', http_tokens: 'required', http_put_response_hop_limit: 1 },
    ]);
    const legacy = sourceOf(await parsed(render(byName('base'), 'legacy').text));
    expect(legacy.imds_support).toBeUndefined();
    expect(legacy.metadata_options).toBeUndefined();
  });

  it('encrypts the launch volume with the build region key, so no encrypt_boot copy; the copies are re-encrypted by bake', async () => {
    for (const shape of ['legacy', 'modern'] as const) {
      const source = sourceOf(await parsed(render(byName('web'), shape).text));
      expect(source.encrypt_boot).toBeUndefined();
      expect(source.kms_key_id).toBeUndefined();
      expect(source.region_kms_key_ids).toBeUndefined();
      expect(source.launch_block_device_mappings).toEqual([
        expect.objectContaining({
          device_name: '${var.root_device_name}',
          encrypted: true,
          kms_key_id: 'alias/bake-images',
          delete_on_termination: true,
        }),
      ]);
    }
    const plain = sourceOf(await parsed(render(recipe({ encrypted: false, volumeSizeGb: undefined }), 'legacy').text));
    expect(plain.launch_block_device_mappings).toBeUndefined();
  });

  it('polls EC2 every 5 s on AWS and every second on the local cloud, on both shapes', async () => {
    for (const shape of ['legacy', 'modern'] as const) {
      const aws = sourceOf(await parsed(render(byName('web'), shape).text));
      expect(aws.aws_polling).toEqual([{ delay_seconds: 2, max_attempts: 1800 }]);
      const local = sourceOf(
        await parsed(
          render(byName('web'), shape, { ec2Endpoint: 'http://127.0.0.1:1', local: { sshPort: 2222 } }).text,
        ),
      );
      expect(local.aws_polling).toEqual([{ delay_seconds: 1, max_attempts: 3600 }]);
    }
  });

  it('refuses a share_with entry that is neither an account nor an organization', () => {
    const r = recipe({
      shareWith: ['everyone'],
      locations: { share_with: { file: '/b/recipes/web.yaml', line: 7, col: 3 } },
    });
    expect(() => render(r, 'legacy')).toThrow(RecipeError);
    try {
      render(r, 'legacy');
    } catch (error) {
      expect((error as RecipeError).toLine()).toMatch(/^\/b\/recipes\/web\.yaml:7:3: share_with entry "everyone"/);
    }
  });

  it("leaves the recipe's own tags and description out of Packer's hands: bake applies them through EC2", async () => {
    const r = recipe({ description: 'desc {{ pwd }}', tags: { team: '{{ .Nope }}', 'bake:recipe': 'spoofed' } });
    const b = bakery([r], { config: { ...bakery([]).config, tags: { owner: 'platform' } } });
    for (const shape of ['legacy', 'modern'] as const) {
      const text = renderPackerTemplate({ bakery: b, recipe: r, shape, defaults: variableDefaults(r) }).text;
      expect(text).not.toContain('{{ pwd }}');
      expect(text).not.toContain('.Nope');
      expect(text).not.toContain('platform');
      expect(text).not.toContain('spoofed');
      expect(text).not.toContain('ami_description');
      expect((await parsed(text)).locals[0].image_tags).toContain('"bake:recipe"');
    }
  });

  it('refuses, as a last guard, any value that would reach Packer holding "{{"', () => {
    const r = recipe({ instanceType: 't3.{{ pwd }}' });
    expect(() => render(r, 'legacy')).toThrow(/contains "\{\{", which Packer's template engine would evaluate/);
  });

  it('keeps the AMI name within EC2 rules whatever the recipe is called', async () => {
    const r = recipe({ name: `${'very-long-name-'.repeat(10)}with:colons*and{braces}` });
    const hcl = await parsed(render(r, 'legacy').text);
    const prefix = /join\("-", \["([^"]*)"/.exec(hcl.locals[0].ami_name)![1];
    expect(prefix).toMatch(/^[A-Za-z0-9()[\] ./'@_-]+$/);
    // <prefix>-<12 fingerprint characters>-<14 digits of build time>
    expect(prefix.length + 1 + 12 + 1 + 14).toBeLessThanOrEqual(128);
  });
});

describe('hostile recipe values', () => {
  const hostile = recipe({
    name: 'web',
    description: 'desc" } source "amazon-ebs" "evil" { x = "${var.secret}',
    instanceType: 't3.small"\n  user_data = "boom',
    sshUsername: 'admin%{ if true }root%{ endif }',
    subnetId: 'subnet-1\\" injected = "1',
    base: { kind: 'filter', name: 'debian-*" ] owners = ["evil', owners: ['1234"]\n  most_recent = false #'] },
    tags: {
      'a" } evil = "x': '${var.secret}',
      team: 'multi\nline\ttab ✓ 🍞',
      'back\\slash': '\\"',
    },
  });

  it('cannot add attributes or blocks to the template, and every value reads back exactly', async () => {
    for (const shape of ['legacy', 'modern'] as const) {
      const hcl = await parsed(render(hostile, shape).text);
      expect(Object.keys(hcl.source['amazon-ebs'])).toEqual(['recipe']);
      expect(Object.keys(hcl.source)).toEqual(['amazon-ebs']);
      const source = sourceOf(hcl);
      expect(Object.keys(source)).not.toContain('user_data');
      expect(Object.keys(source)).not.toContain('injected');
      expect(source.ami_description).toBeUndefined();
      expect(fromHcl2json(source.instance_type)).toBe(hostile.instanceType);
      expect(fromHcl2json(source.ssh_username)).toBe(hostile.sshUsername);
      expect(fromHcl2json(source.subnet_id)).toBe(hostile.subnetId);
      const filter = source.dynamic.source_ami_filter[0].content[0];
      expect(fromHcl2json(filter.filters.name)).toBe('debian-*" ] owners = ["evil');
      expect(filter.owners.map(fromHcl2json)).toEqual(['1234"]\n  most_recent = false #']);
      expect(filter.most_recent).toBe(true);
    }
  });
});

describe('the template of one architecture of a recipe that names architectures', () => {
  it('narrows the base filter to that architecture, tags the image with it and names the AMI by the pair', async () => {
    const arm = recipe({
      name: 'web.arm64',
      recipeName: 'web',
      architecture: 'arm64',
      instanceType: 't4g.small',
      base: { kind: 'filter', name: 'debian-12-arm64-*', owners: ['136693071363'], architecture: 'arm64' },
    });
    const text = render(arm, 'legacy').text;
    const hcl = await parsed(text);
    expect(sourceOf(hcl).instance_type).toBe('t4g.small');
    expect(text).toMatch(/"architecture"\s+= "arm64"/);
    expect(text).toMatch(/"bake:arch"\s+= "arm64"/);
    expect(text).toMatch(/"bake:recipe"\s+= "web"\n/);
    expect(text).toContain('join("-", ["web.arm64", substr(var.fingerprint, 0, 12), local.build_stamp])');
    // A recipe that names no architectures has neither: its template is the one it always had.
    const plain = render(
      recipe({ base: arm.base.kind === 'filter' ? { ...arm.base, architecture: undefined } : arm.base }),
      'legacy',
    ).text;
    expect(plain).not.toContain('bake:arch');
    expect(plain).not.toContain('"architecture"');
  });
});
