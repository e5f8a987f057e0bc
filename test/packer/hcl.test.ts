import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHcl2json } from '../../src/escape/hcl-string.js';
import { hclAssignments, hclList, hclMap, packerString } from '../../src/packer/hcl.js';
import { packerEvaluate, writeNullTemplate } from './packer-cli.js';
import { HOSTILE_FOR_PACKER as HOSTILE } from './hostile-values.js';

describe('packerString', () => {
  it('refuses "{{" in anything bound for Packer, whose Go template engine would evaluate it (once or twice)', () => {
    for (const value of ['{{ pwd }}', 'a {{- .Nope -}} b', '{{"{{"}}', '}} {{']) {
      expect(() => packerString(value)).toThrow(/which Packer's template engine would evaluate/);
      expect(() => hclList([value])).toThrow(/template engine/);
      expect(() => hclMap({ k: value })).toThrow(/template engine/);
      expect(() => hclAssignments({ v: value })).toThrow(/template engine/);
    }
    expect(packerString('} { }} {')).toBe('"} { }} {"');
  });
});

describe('hostile values read back exactly', () => {
  const attributes = Object.fromEntries(HOSTILE.map((value, i) => [`v${i}`, value]));
  const tags = Object.fromEntries(HOSTILE.map((value, i) => [value || `empty${i}`, `tag ${value}`]));
  const text = [hclAssignments(attributes), `tags = ${hclMap(tags)}`, `list = ${hclList(HOSTILE)}`, ''].join('\n');

  it('parse with the real HCL parser into exactly the attributes written, nothing more', async () => {
    const parsed = (await parse('hostile.hcl', text)) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual([...Object.keys(attributes), 'list', 'tags'].sort());
    for (const [name, value] of Object.entries(attributes)) expect(fromHcl2json(parsed[name])).toBe(value);
    const parsedTags = parsed.tags as Record<string, string>;
    expect(Object.keys(parsedTags).map(fromHcl2json).sort()).toEqual(Object.keys(tags).sort());
    expect((parsed.list as string[]).map(fromHcl2json)).toEqual(HOSTILE);
  });

  describe('as Packer itself evaluates them', () => {
    let template: string;
    beforeAll(async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'bake-hcl-'));
      // Locals are evaluated by Packer exactly like the template's source and tag attributes.
      template = await writeNullTemplate(
        path.join(dir, 'values.pkr.hcl'),
        ['locals {', `  tags = ${hclMap(tags, 2)}`, `  list = ${hclList(HOSTILE)}`, '}'].join('\n'),
      );
    });

    it('keeps every tag key and value byte for byte', async () => {
      expect(await packerEvaluate(template, 'local.tags')).toEqual(tags);
    });

    it('keeps every list element byte for byte', async () => {
      expect(await packerEvaluate(template, 'local.list')).toEqual(HOSTILE);
    });
  });
});

describe('hclMap', () => {
  it('writes one quoted key a line, aligned, indented from the opening column', () => {
    expect(hclMap({ team: 'web', 'bake:recipe': 'x' }, 2)).toBe(
      '{\n    "team"        = "web"\n    "bake:recipe" = "x"\n  }',
    );
  });

  it('writes an empty map as {}', () => {
    expect(hclMap({})).toBe('{}');
  });
});
