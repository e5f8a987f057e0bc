import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { beforeAll, describe, expect, it } from 'vitest';
import { hclAssignments, hclList, hclMap, hclString } from '../../src/packer/hcl.js';
import { fromHclJson } from '../../src/packer/variables.js';
import { packerEvaluate } from './packer-cli.js';
import { HOSTILE } from './hostile-values.js';


describe('hclString', () => {
  it('quotes plain text unchanged', () => {
    expect(hclString('web')).toBe('"web"');
  });

  it('doubles interpolation and directive openers so Packer never evaluates recipe text', () => {
    expect(hclString('${var.secret}')).toBe('"$${var.secret}"');
    expect(hclString('%{ if true }x%{ endif }')).toBe('"%%{ if true }x%%{ endif }"');
  });

  it('escapes quotes, backslashes and control characters and keeps everything on one line', () => {
    const quoted = hclString('a"b\\c\nd\re\tf\u0001g');
    expect(quoted).toBe('"a\\"b\\\\c\\nd\\re\\tf\\u0001g"');
    expect(quoted).not.toMatch(/[\n\r\t\u0001]/);
  });

  it('refuses a string with an unpaired surrogate, which has no UTF-8 form', () => {
    expect(() => hclString('broken \uD800 half')).toThrow(/unpaired UTF-16 surrogate/);
    expect(hclString('🍞')).toBe('"🍞"');
  });
});

describe('hostile values read back exactly', () => {
  const attributes = Object.fromEntries(HOSTILE.map((value, i) => [`v${i}`, value]));
  const tags = Object.fromEntries(HOSTILE.map((value, i) => [value || `empty${i}`, `tag ${value}`]));
  const text = [
    hclAssignments(attributes),
    `tags = ${hclMap(tags)}`,
    `list = ${hclList(HOSTILE)}`,
    '',
  ].join('\n');

  it('parse with the real HCL parser into exactly the attributes written, nothing more', async () => {
    const parsed = (await parse('hostile.hcl', text)) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual([...Object.keys(attributes), 'list', 'tags'].sort());
    for (const [name, value] of Object.entries(attributes)) expect(fromHclJson(parsed[name])).toBe(value);
    const parsedTags = parsed.tags as Record<string, string>;
    expect(Object.keys(parsedTags).map(fromHclJson).sort()).toEqual(Object.keys(tags).sort());
    expect((parsed.list as string[]).map(fromHclJson)).toEqual(HOSTILE);
  });

  describe('as Packer itself evaluates them', () => {
    let template: string;
    beforeAll(async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'bake-hcl-'));
      template = path.join(dir, 'values.pkr.hcl');
      // Locals are evaluated by Packer exactly like the template's source and tag attributes.
      await writeFile(
        template,
        [
          'locals {',
          `  tags = ${hclMap(tags, 2)}`,
          `  list = ${hclList(HOSTILE)}`,
          '}',
          'source "null" "values" {',
          '  communicator = "none"',
          '}',
          'build {',
          '  sources = ["source.null.values"]',
          '}',
          '',
        ].join('\n'),
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
    expect(hclMap({ team: 'web', 'bake:recipe': 'x' }, 2)).toBe('{\n    "team"        = "web"\n    "bake:recipe" = "x"\n  }');
  });

  it('writes an empty map as {}', () => {
    expect(hclMap({})).toBe('{}');
  });
});
