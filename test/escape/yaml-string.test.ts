import { execa } from 'execa';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BakeError } from '../../src/errors/index.js';
import { yamlString } from '../../src/escape/yaml-string.js';
import { hostileText, withLoneSurrogate } from './hostile-strings.js';

const hasLoneSurrogate = (value: string) => /[\ud800-\udfff]/u.test(value);

describe('yamlString', () => {
  it('keeps words YAML would read as numbers, booleans or null the exact string', () => {
    for (const word of ['123', '1e3', '0x1F', 'yes', 'no', 'on', 'true', 'null', '~', 'NaN', '.inf', '2026-12-07']) {
      expect(parse(`bakery: ${yamlString(word)}\n`)).toEqual({ bakery: word });
    }
  });

  it('gives back any string exactly as one value on its line, whatever it holds', () => {
    fc.assert(
      fc.property(
        hostileText.filter((value) => !hasLoneSurrogate(value)),
        (value) => {
          const text = `bakery: ${yamlString(value)}\nregions: [us-east-1]\n`;
          expect(text.split('\n')).toHaveLength(3);
          expect(parse(text)).toEqual({ bakery: value, regions: ['us-east-1'] });
        },
      ),
    );
  });

  it('reads the same in PyYAML, which Ansible and cloud-init use', async () => {
    const values = [
      'a: b',
      '# not a comment',
      '- item',
      '{x: 1}',
      'line\nbreak',
      'nel\u0085here',
      'ls\u2028here',
      'it\'s "q"',
    ];
    const doc = values.map((value, i) => `v${i}: ${yamlString(value)}`).join('\n');
    const script = 'import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())))';
    const { stdout } = await execa('python3', ['-c', script], { input: doc });
    expect(Object.values(JSON.parse(stdout))).toEqual(values);
  });

  it('refuses an unpaired surrogate, which no file can hold', () => {
    fc.assert(
      fc.property(withLoneSurrogate, (value) => {
        expect(() => yamlString(value)).toThrow(BakeError);
      }),
    );
  });
});
