/**
 * `bake verify`'s way to Ansible (src/verify/ansible-run.ts) with secrets: a real ansible-playbook
 * gets the value through the private extra-vars file, and what it prints is masked in the log
 * and in the lines bake keeps.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forgetSecrets, registerSecret } from '../../src/io/secret-mask.js';
import { withSecretsFile } from '../../src/secrets/secrets-file.js';
import { closeLog, runPlaybook } from '../../src/verify/ansible-run.js';

afterAll(() => forgetSecrets());

describe('ansible-playbook runs for bake verify', () => {
  it('receive the secrets as variables and never log their values', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-verify-secrets-'));
    const canary = 'verify-canary-5Tn8';
    registerSecret(canary);
    const inventory = path.join(dir, 'inventory.json');
    await writeFile(
      inventory,
      JSON.stringify({
        all: { hosts: { default: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3' } } },
      }),
    );
    const playbook = path.join(dir, 'playbook.yml');
    const digest = path.join(dir, 'digest');
    await writeFile(
      playbook,
      `- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy: { content: "{{ repo_token | hash('sha256') }}", dest: ${JSON.stringify(digest)} }\n    - ansible.builtin.debug: { msg: "token {{ repo_token }}" }\n`,
    );
    const logFile = path.join(dir, 'ansible.log');
    const log = createWriteStream(logFile);
    const changed: string[] = [];
    const result = await withSecretsFile({ repo_token: canary }, (secretsFile) =>
      runPlaybook({
        playbook,
        inventory,
        extraVars: { bake_recipe: 'app' },
        secretsFile,
        rolesPath: [dir],
        log,
        onChanged: (task) => changed.push(task),
      }),
    );
    await closeLog(log);
    expect(result.exitCode, result.tail.join('\n')).toBe(0);
    expect(await readFile(digest, 'utf8')).toBe(createHash('sha256').update(canary).digest('hex'));
    const written = await readFile(logFile, 'utf8');
    expect(written).toContain('"msg": "token ********"');
    expect(written).not.toContain(canary);
    expect(JSON.stringify(result)).not.toContain(canary);
  });
});
