import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BakeError } from '../../src/errors/index.js';
import { asParsedByHcl2json, fromHcl2json, hclString } from '../../src/escape/hcl-string.js';
import { packerEvaluate, writeNullTemplate } from '../packer/packer-cli.js';
import { hostileNfcText, hostileText, notNfcText, withLoneSurrogate } from './hostile-strings.js';

/** HCL text of one attribute per value and one map keyed by the values, parsed by the real parser. */
async function readBack(
  values: readonly string[],
): Promise<{ attributes: unknown[]; keys: unknown[]; extra: string[] }> {
  const text = [
    ...values.map((value, i) => `v${i} = ${hclString(value)}`),
    `m = {\n${values.map((value, i) => `  ${hclString(value)} = "${i}"`).join('\n')}\n}`,
    '',
  ].join('\n');
  const parsed = (await parse('values.hcl', text)) as Record<string, unknown>;
  const map = parsed.m as Record<string, string>;
  const byIndex = Object.entries(map).sort(([, a], [, b]) => Number(a) - Number(b));
  return {
    attributes: values.map((_, i) => fromHcl2json(parsed[`v${i}`])),
    keys: byIndex.map(([key]) => fromHcl2json(key)),
    extra: Object.keys(parsed).filter((name) => name !== 'm' && !/^v\d+$/.test(name)),
  };
}

describe('hclString', () => {
  it('quotes plain text unchanged', () => {
    expect(hclString('web')).toBe('"web"');
  });

  it('doubles interpolation and directive openers so Packer never evaluates recipe text', () => {
    expect(hclString('${var.secret}')).toBe('"$${var.secret}"');
    expect(hclString('%{ if true }x%{ endif }')).toBe('"%%{ if true }x%%{ endif }"');
  });

  it('escapes quotes, backslashes, controls and invisible line breaks, keeping the value on one line', () => {
    const quoted = hclString('a"b\\c\nd\re\tf\u0001g\u0085h\u2028i\u2029j');
    expect(quoted).toBe('"a\\"b\\\\c\\nd\\re\\tf\\u0001g\\u0085h\\u2028i\\u2029j"');
    expect(quoted).not.toMatch(/[\n\r\t\u0001\u0085\u2028\u2029]/);
    expect(hclString('🍞 é 日本')).toBe('"🍞 é 日本"');
  });

  it('reads back exactly through the real HCL parser, as attribute values and as map keys, for any text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(hostileNfcText, { maxLength: 8 }), async (values) => {
        const back = await readBack(values);
        expect(back.attributes).toEqual(values);
        expect(back.keys).toEqual(values);
        expect(back.extra).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('always writes one line that starts and ends with its quote', () => {
    fc.assert(
      fc.property(hostileNfcText, (value) => {
        const quoted = hclString(value);
        expect(quoted).toMatch(/^"[^\n\r\u2028\u2029\u0085]*"$/);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses text with an unpaired surrogate (no file can hold it) with a one-line error', () => {
    fc.assert(
      fc.property(withLoneSurrogate, (value) => {
        expect(() => hclString(value)).toThrow(BakeError);
        expect(() => hclString(value)).toThrow(/unpaired UTF-16 surrogate/);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses text that is not in normalization form C, which HCL would silently change', () => {
    fc.assert(
      fc.property(notNfcText, (value) => {
        expect(() => hclString(value)).toThrow(/not in Unicode normalization form C/);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with how hcl2json reports a literal', () => {
    fc.assert(
      fc.property(hostileText, (value) => {
        expect(fromHcl2json(asParsedByHcl2json(value))).toBe(value);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives Packer itself the exact values, as its console evaluates them', async () => {
    const values = fc.sample(hostileNfcText, { numRuns: 300, seed: 20261130 });
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-hcl-string-'));
    const template = await writeNullTemplate(
      path.join(dir, 'values.pkr.hcl'),
      ['locals {', `  values = [\n${values.map((value) => `    ${hclString(value)},`).join('\n')}\n  ]`, '}'].join(
        '\n',
      ),
    );
    expect(await packerEvaluate(template, 'local.values')).toEqual(values);
  });
});
