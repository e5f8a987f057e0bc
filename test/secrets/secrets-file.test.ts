import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { secretsVarsText, withSecretsFile } from '../../src/secrets/secrets-file.js';

const HOSTILE = `tok{{ lookup('pipe', 'echo EVALUATED') }}"'\\ $x \n second line é \u0085 \u2028 {% raw %}`;

describe('the secrets extra-vars file', () => {
  it('reaches a real ansible-playbook as a plain string variable, with no template in it evaluated', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-secrets-file-'));
    const out = path.join(dir, 'received');
    const playbook = path.join(dir, 'play.yml');
    await writeFile(
      playbook,
      `- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy: { content: "{{ repo_token }}", dest: ${JSON.stringify(out)} }\n      no_log: true\n`,
    );
    let seen = '';
    await withSecretsFile({ repo_token: HOSTILE }, async (file) => {
      seen = file;
      const info = statSync(file);
      expect(info.mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
      expect(file.startsWith('/dev/shm/')).toBe(true);
      const run = await execa('ansible-playbook', ['-i', 'localhost,', '--extra-vars', `@${file}`, playbook], {
        reject: false,
        all: true,
        env: { ANSIBLE_NOCOLOR: '1' },
      });
      expect(run.exitCode, run.all).toBe(0);
      expect(run.all).not.toContain('tok{{');
    });
    expect(await readFile(out, 'utf8')).toBe(HOSTILE);
    expect(existsSync(seen)).toBe(false);
    expect(existsSync(path.dirname(seen))).toBe(false);
  });

  it('is removed when the run fails too', async () => {
    let seen = '';
    await expect(
      withSecretsFile({ a_secret: 'value-1234' }, async (file) => {
        seen = file;
        throw new Error('packer failed');
      }),
    ).rejects.toThrow('packer failed');
    expect(existsSync(path.dirname(seen))).toBe(false);
  });

  it('tags every value !unsafe', () => {
    expect(secretsVarsText({ a: 'x', b: 'y' })).toBe('a: !unsafe "x"\nb: !unsafe "y"\n');
  });
});
