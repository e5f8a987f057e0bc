import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { describe, expect, it } from 'vitest';
import { TfvarsError } from '../../src/errors/index.js';
import { editTfvars, type PinEdit } from '../../src/tfvars/index.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tfvars');
const read = (name: string) => readFileSync(path.join(fixtures, name), 'utf8');

/** Edits `name` and expects the result to equal `name.expected` byte for byte. */
async function expectFixture(name: string, edits: PinEdit[]): Promise<string> {
  const dot = name.indexOf('.');
  const expected = read(`${name.slice(0, dot)}.expected${name.slice(dot)}`);
  const result = await editTfvars(name, read(name), edits);
  expect(result.text).toBe(expected);
  expect(result.changed).toBe(true);
  return result.text;
}

const map = (variable: string, amis: Record<string, string>): PinEdit[] =>
  Object.entries(amis).map(([key, value]) => ({ variable, key, value }));

describe('HCL tfvars: only the pinned values change', () => {
  it('pins both regions of a map and keeps every comment, blank line and other variable', async () => {
    await expectFixture(
      'commented-map.tfvars',
      map('web_ami', { 'us-east-1': 'ami-0aaaaaaaaaaaaaaa1', 'eu-west-1': 'ami-0bbbbbbbbbbbbbbb2' }),
    );
  });

  it('adds a missing region to a terraform-fmt aligned map at the aligned column', async () => {
    await expectFixture('aligned-map.tfvars', map('worker_ami', { 'us-west-2': 'ami-33333333' }));
  });

  it('realigns the `=` of an aligned map when the new region is longer, as terraform fmt would', async () => {
    await expectFixture('aligned-map-longer-key.tfvars', map('worker_ami', { 'ap-southeast-1': 'ami-33333333' }));
  });

  it('keeps quoted keys quoted, for changed and added entries', async () => {
    await expectFixture(
      'quoted-keys.tfvars',
      map('api_ami', { 'eu-west-1': 'ami-cccccccc', 'us-west-2': 'ami-dddddddd' }),
    );
  });

  it('keeps CRLF line endings, also on the lines it adds', async () => {
    const text = await expectFixture('crlf.tfvars', [
      ...map('web_ami', { 'eu-west-1': 'ami-bbbbbbbb' }),
      { variable: 'base_ami', value: 'ami-cccccccc' },
    ]);
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('appends a missing variable after a newline and keeps the missing trailing newline missing', async () => {
    await expectFixture('no-trailing-newline.tfvars', [
      { variable: 'web_ami', value: 'ami-bbbbbbbb' },
      ...map('worker_ami', { 'us-east-1': 'ami-cccccccc', 'eu-west-1': 'ami-dddddddd' }),
    ]);
  });

  it('indents an added region with the tab the map already uses', async () => {
    await expectFixture('tabs.tfvars', map('web_ami', { 'eu-west-1': 'ami-bbbbbbbb' }));
  });

  it('leaves unicode comments and strings exactly as they were', async () => {
    await expectFixture('unicode.tfvars', [{ variable: 'web_ami', value: 'ami-bbbbbbbb' }]);
  });

  it('is not fooled by heredocs that contain look-alike assignments and braces', async () => {
    await expectFixture('heredoc.tfvars', map('web_ami', { 'us-east-1': 'ami-bbbbbbbb' }));
  });

  it('writes one key of a shared one-line map and keeps it on one line', async () => {
    await expectFixture('shared-map.tfvars', [
      { variable: 'amis', key: 'worker', value: 'ami-cccccccc' },
      { variable: 'amis', key: 'batch', value: 'ami-dddddddd' },
    ]);
  });

  it('fills an empty map in terraform fmt style', async () => {
    await expectFixture(
      'empty-map.tfvars',
      map('web_ami', { 'us-east-1': 'ami-aaaaaaaa', 'eu-west-1': 'ami-bbbbbbbb' }),
    );
  });

  it('appends missing variables in terraform fmt style, one block each', async () => {
    await expectFixture('missing-variable.tfvars', [
      ...map('web_ami', { 'us-east-1': 'ami-aaaaaaaa', 'ap-southeast-2': 'ami-bbbbbbbb' }),
      { variable: 'bastion_ami', value: 'ami-cccccccc' },
    ]);
  });

  it('follows a map that writes `key="value",` without spaces, after its trailing comment', async () => {
    await expectFixture('unaligned-map.tfvars', map('web_ami', { 'eu-west-1': 'ami-bbbbbbbb' }));
  });

  it('sees through strings holding comment markers, braces, escaped quotes and templates', async () => {
    await expectFixture(
      'tricky-strings.tfvars',
      map('web_ami', { 'us-east-1': 'ami-cccccccc', 'us-west-2': 'ami-dddddddd' }),
    );
  });

  it('refuses blocks: a tfvars file holds attributes only', async () => {
    const attempt = editTfvars('x.tfvars', 'a = "x"\n\nresource "x" "y" {}\n', [
      { variable: 'a', value: 'ami-aaaaaaaa' },
    ]);
    await expect(attempt.catch((e: TfvarsError) => e.toLine())).resolves.toBe(
      'x.tfvars:3: bake cannot edit this file: expected `name = value` (tfvars hold attributes only)',
    );
  });

  it('reports no change when every pinned value is already there', async () => {
    const text = read('commented-map.tfvars');
    const result = await editTfvars('x.tfvars', text, map('web_ami', { 'us-east-1': 'ami-0123456789abcdef0' }));
    expect(result).toEqual({ text, changed: false });
  });

  it('writes a new file from nothing', async () => {
    const result = await editTfvars('new.auto.tfvars', '', [{ variable: 'web_ami', value: 'ami-aaaaaaaa' }]);
    expect(result.text).toBe('web_ami = "ami-aaaaaaaa"\n');
  });
});

describe('JSON tfvars: values replaced in place, the file keeps its indentation', () => {
  it('updates and adds regions and appends a variable in a 2-space file', async () => {
    await expectFixture('json-2.tfvars.json', [
      ...map('web_ami', { 'us-east-1': 'ami-bbbbbbbb', 'eu-west-1': 'ami-cccccccc' }),
      { variable: 'base_ami', value: 'ami-dddddddd' },
    ]);
  });

  it('fills an empty map and appends a map in a 4-space file without a trailing newline', async () => {
    await expectFixture('json-4.tfvars.json', [
      ...map('web_ami', { 'us-east-1': 'ami-bbbbbbbb' }),
      ...map('worker_ami', { 'us-east-1': 'ami-cccccccc', 'eu-west-1': 'ami-dddddddd' }),
    ]);
  });

  it('keeps a byte order mark, tab indentation and CRLF line endings', async () => {
    const text = '\uFEFF{\r\n\t"web_ami": {\r\n\t\t"us-east-1": "ami-aaaaaaaa"\r\n\t}\r\n}\r\n';
    const result = await editTfvars('x.tfvars.json', text, map('web_ami', { 'eu-west-1': 'ami-bbbbbbbb' }));
    expect(result.text).toBe(
      '\uFEFF{\r\n\t"web_ami": {\r\n\t\t"us-east-1": "ami-aaaaaaaa",\r\n\t\t"eu-west-1": "ami-bbbbbbbb"\r\n\t}\r\n}\r\n',
    );
  });

  it('keeps a one-line file on one line', async () => {
    await expectFixture('json-compact.tfvars.json', [
      ...map('web_ami', { 'eu-west-1': 'ami-bbbbbbbb' }),
      { variable: 'base_ami', value: 'ami-cccccccc' },
    ]);
  });
});

describe('refuses values bake does not own the shape of', () => {
  const refusals: Array<[string, string, PinEdit[], RegExp]> = [
    [
      'a variable reference',
      'x = 1\nweb_ami = var.base\n',
      [{ variable: 'web_ami', value: 'ami-aaaaaaaa' }],
      /x\.tfvars:2: web_ami is an expression/,
    ],
    [
      'a function call',
      'web_ami = lookup(local.m, "a")\n',
      [{ variable: 'web_ami', value: 'ami-aaaaaaaa' }],
      /:1: web_ami is an expression/,
    ],
    [
      'a string template',
      'web_ami = "ami-${var.x}"\n',
      [{ variable: 'web_ami', value: 'ami-aaaaaaaa' }],
      /:1: web_ami is a string template/,
    ],
    [
      'a list',
      'web_ami = ["ami-aaaaaaaa"]\n',
      [{ variable: 'web_ami', value: 'ami-aaaaaaaa' }],
      /:1: web_ami is a list/,
    ],
    [
      'a heredoc',
      'web_ami = <<EOT\nami-aaaaaaaa\nEOT\n',
      [{ variable: 'web_ami', value: 'ami-aaaaaaaa' }],
      /:1: web_ami is a heredoc/,
    ],
    [
      'a map where a string is pinned',
      'web_ami = { a = "b" }\n',
      [{ variable: 'web_ami', value: 'ami-aaaaaaaa' }],
      /:1: web_ami is a map; its pin target writes a plain string/,
    ],
    [
      'a string where a map entry is pinned',
      'web_ami = "ami-aaaaaaaa"\n',
      [{ variable: 'web_ami', key: 'us-east-1', value: 'ami-aaaaaaaa' }],
      /:1: web_ami is a plain string; bake only edits a map/,
    ],
    [
      'a map with a number in it',
      'web_ami = {\n  count = 2\n}\n',
      [{ variable: 'web_ami', key: 'us-east-1', value: 'ami-aaaaaaaa' }],
      /:2: web_ami\.count is a number/,
    ],
    [
      'a map with a nested map',
      'amis = {\n  web = { a = "b" }\n}\n',
      [{ variable: 'amis', key: 'web', value: 'ami-aaaaaaaa' }],
      /:2: amis\.web is a map/,
    ],
    [
      'a map with a computed key',
      'amis = {\n  (var.k) = "x"\n}\n',
      [{ variable: 'amis', key: 'web', value: 'ami-aaaaaaaa' }],
      /:2: amis has a computed key/,
    ],
    [
      'a for expression',
      'amis = { for k in ["a"] : k => "x" }\n',
      [{ variable: 'amis', key: 'web', value: 'ami-aaaaaaaa' }],
      /:1: amis is an object bake cannot edit/,
    ],
    [
      'a key set twice',
      'amis = {\n  web = "ami-aaaaaaaa"\n  "web" = "ami-bbbbbbbb"\n}\n',
      [{ variable: 'amis', key: 'web', value: 'ami-cccccccc' }],
      /:3: amis sets "web" more than once/,
    ],
  ];
  it.each(refusals)('refuses %s with file:line', async (_what, text, edits, message) => {
    const attempt = editTfvars('x.tfvars', text, edits);
    await expect(attempt).rejects.toBeInstanceOf(TfvarsError);
    await expect(attempt.catch((e: TfvarsError) => e.toLine())).resolves.toMatch(message);
  });

  it('refuses a JSON map that sets a region twice', async () => {
    const attempt = editTfvars(
      'x.tfvars.json',
      '{\n  "web_ami": {\n    "a": "ami-11111111",\n    "a": "ami-22222222"\n  }\n}\n',
      [{ variable: 'web_ami', key: 'a', value: 'ami-33333333' }],
    );
    await expect(attempt.catch((e: TfvarsError) => e.toLine())).resolves.toBe(
      'x.tfvars.json:4: web_ami sets "a" more than once',
    );
  });

  it('refuses a JSON variable that is a list', async () => {
    const attempt = editTfvars('x.tfvars.json', '{\n  "web_ami": ["ami-aaaaaaaa"]\n}\n', [
      { variable: 'web_ami', key: 'a', value: 'ami-aaaaaaaa' },
    ]);
    await expect(attempt.catch((e: TfvarsError) => e.toLine())).resolves.toBe(
      'x.tfvars.json:2: web_ami is a list; bake only edits a map of plain strings here',
    );
  });

  it('refuses two different values for the same place', async () => {
    const attempt = editTfvars('x.tfvars', '', [
      { variable: 'amis', key: 'web', value: 'ami-aaaaaaaa' },
      { variable: 'amis', key: 'web', value: 'ami-bbbbbbbb' },
    ]);
    await expect(attempt).rejects.toThrow(/two pin targets write different values into amis\["web"\]/);
  });

  it('refuses a file that does not parse, naming the line the parser names', async () => {
    const attempt = editTfvars('x.tfvars', 'a = "ok"\nweb_ami = "ami-aaaaaaaa\n', [
      { variable: 'web_ami', value: 'ami-bbbbbbbb' },
    ]);
    await expect(attempt.catch((e: TfvarsError) => e.toLine())).resolves.toMatch(/^x\.tfvars:2: does not parse: /);
  });

  it('refuses JSON that does not parse', async () => {
    const attempt = editTfvars('x.tfvars.json', '{\n  "a": 1,\n}\n', [{ variable: 'a', value: 'ami-bbbbbbbb' }]);
    await expect(attempt.catch((e: TfvarsError) => e.toLine())).resolves.toMatch(
      /^x\.tfvars\.json:3: does not parse as JSON/,
    );
  });
});

describe('values are escaped by construction', () => {
  const hostile = 'x"\n  evil = "${file("/etc/passwd")}%{if true}\\';

  it('writes a hostile HCL value as one literal string that reads back unchanged', async () => {
    const result = await editTfvars('x.tfvars', 'amis = {\n  web = "ami-aaaaaaaa"\n}\n', [
      { variable: 'amis', key: 'web', value: hostile },
      { variable: 'amis', key: 'we"ird ${key}', value: 'ami-bbbbbbbb' },
      { variable: 'plain', value: hostile },
    ]);
    const parsed = (await parse('x.tfvars', result.text)) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(['amis', 'plain']);
    // hcl2json spells a literal `${` as `$${`, as Terraform's JSON syntax does.
    const asRead = hostile.replace('${', () => '$${').replace('%{', () => '%%{');
    expect(parsed.amis).toEqual({ web: asRead, 'we"ird $${key}': 'ami-bbbbbbbb' });
    // No newline leaked out of a value: the map's 4 lines, a blank line, `plain`, the final newline.
    expect(result.text.split('\n')).toHaveLength(7);
  });

  it('writes a hostile JSON value with JSON escapes', async () => {
    const result = await editTfvars('x.tfvars.json', '{}\n', [{ variable: 'web_ami', key: 'k"', value: hostile }]);
    expect(JSON.parse(result.text)).toEqual({ web_ami: { 'k"': hostile } });
  });

  it('refuses a variable name that is not an identifier', async () => {
    await expect(editTfvars('x.tfvars', '', [{ variable: 'a = 1\nb', value: 'ami-aaaaaaaa' }])).rejects.toThrow(
      /not a valid Terraform variable name/,
    );
  });
});
