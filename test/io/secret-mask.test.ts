/**
 * The mask against what Python and Ansible really print: every secret carries the marker
 * "canary" between characters each printer escapes differently (quotes, backslashes, control
 * characters, non-ASCII), and after masking no output line may still hold the marker.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { forgetSecrets, maskSecrets, registerSecret, SECRET_MASK } from '../../src/io/secret-mask.js';

afterEach(() => forgetSecrets());

const SECRETS = [
  "odd'canary\\9d",
  'both\'"canary\\x',
  'tab\tcanary\u0001ctl\u007f',
  'caf\u00e9-canary-\u2028-\u{1f511}',
  'nb\u00a0canary\u200bzw',
  'multi\nline-canary-x\r\nend',
];

/** Python's own printing of each secret: repr, json (both ways), and each inside the other, in lists and dicts. */
const PYTHON_FORMS = `
import json, sys
for s in json.load(sys.stdin):
    for form in (
        repr(s), repr([s]), str({'k': s}), repr("it's " + s), repr('say "x" ' + s),
        json.dumps(s), json.dumps(s, ensure_ascii=False), json.dumps([s]),
        json.dumps(repr([s])), json.dumps({'msg': str([s])}), repr(json.dumps(s)), json.dumps(json.dumps(s)),
    ):
        print(form)
`;

describe('the secret mask', () => {
  it('hides every spelling Python prints of a value: repr in a list or dict, JSON, each inside the other', async () => {
    for (const secret of SECRETS) registerSecret(secret);
    const run = await execa('python3', ['-c', PYTHON_FORMS], { input: JSON.stringify(SECRETS) });
    const lines = run.stdout.split('\n');
    expect(lines.length).toBeGreaterThan(SECRETS.length * 10);
    const leaks = lines.map(maskSecrets).filter((line) => line.includes('canary'));
    expect(leaks).toEqual([]);
  });

  it("hides what a real ansible-playbook prints of a secret in a list, a dict, a message and the task's arguments", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-mask-'));
    for (const secret of SECRETS) registerSecret(secret);
    const vars = path.join(dir, 'vars.json');
    await writeFile(vars, JSON.stringify({ secrets: SECRETS }));
    const playbook = path.join(dir, 'play.yml');
    await writeFile(
      playbook,
      [
        '- hosts: localhost',
        '  connection: local',
        '  gather_facts: false',
        '  tasks:',
        '    - ansible.builtin.debug: { msg: "{{ [item] }}" }',
        '      loop: "{{ secrets }}"',
        '    - ansible.builtin.debug: { msg: "as text {{ [item] }} and {{ {\'k\': item} }}" }',
        '      loop: "{{ secrets }}"',
        '    - ansible.builtin.debug: { var: item }',
        '      loop: "{{ secrets }}"',
        '    - ansible.builtin.command: { argv: [echo, "{{ item }}"] }',
        '      loop: "{{ secrets }}"',
        '      changed_when: false',
        '',
      ].join('\n'),
    );
    const run = await execa('ansible-playbook', ['-v', '-i', 'localhost,', '--extra-vars', `@${vars}`, playbook], {
      reject: false,
      all: true,
      env: { ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'False' },
    });
    expect(run.exitCode, run.all).toBe(0);
    expect(run.all).toContain('canary');
    const masked = run.all.split('\n').map(maskSecrets);
    expect(masked.join('\n')).toContain(SECRET_MASK);
    expect(masked.filter((line) => line.includes('canary'))).toEqual([]);
  });
});
