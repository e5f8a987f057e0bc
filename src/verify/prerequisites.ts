/** What bake verify needs on the machine, checked before anything starts: one line each. */
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { BakeError } from '../errors/index.js';
import { ANSIBLE_PLAYBOOK } from './ansible-run.js';

export interface Machine {
  uid: number | undefined;
  env: NodeJS.ProcessEnv;
}

const thisMachine = (): Machine => ({ uid: process.getuid?.(), env: process.env });

/** Chroot, sshd and the root filesystem copies all need root. */
export function requireRoot(what: string, machine: Machine = thisMachine()): void {
  if (machine.uid !== 0)
    throw new BakeError(
      `${what} needs root (its local instance is a chroot with its own sshd); run bake as root or in a container`,
    );
}

export async function requireAnsiblePlaybook(machine: Machine = thisMachine()): Promise<void> {
  for (const dir of (machine.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const found = await access(path.join(dir, ANSIBLE_PLAYBOOK), constants.X_OK).then(
      () => true,
      () => false,
    );
    if (found) return;
  }
  throw new BakeError(
    `${ANSIBLE_PLAYBOOK} not found on PATH: bake verify runs the roles with it; install ansible-core (scripts/setup.sh does)`,
  );
}
