import { Document } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BakeError } from '../../src/errors/index.js';
import { unsafeVars } from '../../src/escape/ansible-unsafe.js';

function varsText(vars: Record<string, unknown>, doubleQuoted = false): string {
  const doc = new Document();
  doc.contents = unsafeVars(doc, vars, { what: 'role var', doubleQuoted });
  return doc.toString({ lineWidth: 0 });
}

describe('unsafeVars', () => {
  it('tags every string value !unsafe, nested ones too, and leaves variable names, numbers and booleans plain', () => {
    expect(varsText({ greeting: "{{ lookup('pipe','id') }}", port: 80, on: true, nested: { list: ['a', 2] } })).toBe(
      [
        `greeting: !unsafe "{{ lookup('pipe','id') }}"`,
        'port: 80',
        'on: true',
        'nested:',
        '  list:',
        '    - !unsafe a',
        '    - 2',
        '',
      ].join('\n'),
    );
  });

  it('writes every string double-quoted on one line when asked (the secrets file)', () => {
    expect(varsText({ token: 'line one\nline two', plain: 'x' }, true)).toBe(
      'token: !unsafe "line one\\nline two"\nplain: !unsafe "x"\n',
    );
  });

  it('refuses a lone UTF-16 surrogate, naming the variable and never printing the value (it may be a secret)', () => {
    const doc = new Document();
    const refuse = () => unsafeVars(doc, { repo_token: { deep: ['s3cret \ud800'] } }, { what: 'secret' });
    expect(refuse).toThrow(BakeError);
    expect(refuse).toThrow('secret "repo_token" holds an unpaired UTF-16 surrogate, which Ansible cannot read');
    expect(refuse).not.toThrow(/s3cret/);
  });
});
