/**
 * How secret values reach ansible-playbook: an extra-vars file (`--extra-vars @FILE`) in a
 * folder of this run inside bake's private, checked folder (src/files/private-run-dir.ts: on a
 * memory filesystem where there is one, owned by bake, 0700, never a link), removed as soon as
 * the run ends. Only its path appears on a command line (Packer's Ansible provisioner prints its
 * command line); nothing is written in the bakery, and nothing is sent to the instance but what
 * the roles themselves do with the values.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Document } from 'yaml';
import { unsafeVars } from '../escape/ansible-unsafe.js';
import { withPrivateRunDir, type PrivateDirOptions } from '../files/private-run-dir.js';
import { ansibleYamlText } from '../packer/ansible-yaml.js';
import type { SecretValues } from './resolve.js';

/** The extra-vars text: a `{{` inside a secret is never evaluated as a template. */
export function secretsVarsText(values: SecretValues): string {
  const doc = new Document();
  doc.contents = unsafeVars(doc, values, { what: 'secret', doubleQuoted: true });
  return ansibleYamlText(doc);
}

/** Runs `action` with the path of a 0600 extra-vars file holding the values; the file is gone when it returns. */
export async function withSecretsFile<T>(
  values: SecretValues,
  action: (file: string) => Promise<T>,
  options: PrivateDirOptions = {},
): Promise<T> {
  return withPrivateRunDir(
    'secrets',
    async (dir) => {
      const file = path.join(dir, 'vars.yml');
      await writeFile(file, secretsVarsText(values), { mode: 0o600, flag: 'wx' });
      return action(file);
    },
    options,
  );
}
