/**
 * Runs ansible-playbook straight at a kept instance (no Packer): a generated inventory holding
 * the instance's address and key, the recipe's playbook as `bake render` writes it, and the
 * environment Packer's Ansible provisioner gets.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import { ansibleEnvironment } from '../packer/ansible-env.js';
import { BakeError } from '../errors/index.js';
import { maskSecrets } from '../io/secret-mask.js';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { AnsibleOutputReader, type FailedTask, type RecapCounts } from './ansible-output.js';
import type { SshTarget } from './kept-instance.js';

export const ANSIBLE_PLAYBOOK = 'ansible-playbook';
/** Packer's Ansible provisioner names its one host `default`; roles see the same inventory_hostname. */
export const INVENTORY_HOST = 'default';
/** After SIGINT, how long ansible-playbook gets to stop its workers before SIGKILL. */
const STOP_GRACE_MS = 5_000;

export interface PlaybookRequest {
  playbook: string;
  inventory: string;
  extraVars: Record<string, unknown>;
  /** The recipe's build-time secrets, as a private extra-vars file (src/secrets/secrets-file.ts). */
  secretsFile?: string;
  /** ANSIBLE_ROLES_PATH entries. */
  rolesPath: string[];
  /** Variables of bake's environment passed on besides the basic ones (the recipe's ansible_env). */
  keepEnv?: string[];
  /** ANSIBLE_COLLECTIONS_PATH entries (the collections bake installed); empty: Ansible's default. */
  collectionsPath?: string[];
  /** Appended to: the full output. */
  log: WriteStream;
  signal?: AbortSignal;
  /** Each task that reports a change, as it happens. */
  onChanged?: (task: string) => void;
}

export interface PlaybookResult {
  exitCode: number;
  interrupted: boolean;
  /** The one host's PLAY RECAP counts; undefined when Ansible stopped before printing them. */
  counts?: RecapCounts;
  changedTasks: string[];
  failedTasks: FailedTask[];
  /** The last lines of output, for a failure Ansible reported without a task (a syntax error). */
  tail: string[];
  durationMs: number;
}

/**
 * The inventory as JSON, which Ansible's yaml inventory plugin reads: JSON.stringify does the
 * quoting, so no path or address can change its structure.
 */
export async function writeInventory(file: string, target: SshTarget): Promise<void> {
  const host = {
    ansible_host: target.ip,
    ansible_port: target.sshPort,
    // The play becomes root (as Packer's does); the login is the image's ordinary user.
    ansible_user: target.user,
    ansible_ssh_private_key_file: target.privateKey,
    // Every instance gets a fresh host key check-free: the address is reused by the next instance.
    ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes',
    // Every local instance is the Debian 12 debootstrap, where it is: skips a discovery round trip per run.
    ansible_python_interpreter: '/usr/bin/python3',
  };
  await writeFileAtomic(file, `${JSON.stringify({ all: { hosts: { [INVENTORY_HOST]: host } } }, null, 2)}\n`, {
    createDirectory: true,
  });
}

export async function runPlaybook(request: PlaybookRequest): Promise<PlaybookResult> {
  const started = Date.now();
  const reader = new AnsibleOutputReader();
  const tail: string[] = [];
  const secrets = request.secretsFile ? ['--extra-vars', `@${request.secretsFile}`] : [];
  const args = [
    '-i',
    request.inventory,
    '--extra-vars',
    JSON.stringify(request.extraVars),
    ...secrets,
    request.playbook,
  ];
  request.log.write(`# ${new Date().toISOString()} ${ANSIBLE_PLAYBOOK} ${args.join(' ')}\n`);
  if (request.signal?.aborted)
    return { exitCode: -1, interrupted: true, changedTasks: [], failedTasks: [], tail, durationMs: 0 };

  const subprocess = execa(ANSIBLE_PLAYBOOK, args, {
    // Relative paths in the playbook (the cloud-init files) are beside it, as for Packer.
    cwd: path.dirname(request.playbook),
    // Only what Ansible needs from the agent (and the recipe's ansible_env): no AWS credentials.
    env: {
      ...ansibleEnvironment(process.env, request.keepEnv ?? []),
      ANSIBLE_ROLES_PATH: request.rolesPath.join(':'),
      ...(request.collectionsPath?.length && { ANSIBLE_COLLECTIONS_PATH: request.collectionsPath.join(':') }),
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_NOCOLOR: 'True',
      ANSIBLE_FORCE_COLOR: 'False',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      // The format AnsibleOutputReader reads, whatever the user's ansible.cfg says.
      ANSIBLE_STDOUT_CALLBACK: 'default',
      // One SSH round trip per task instead of three: most of a no-change re-run's time.
      ANSIBLE_PIPELINING: 'True',
      // Modules log their arguments to the target's journal ("Invoked with …"): secrets among them.
      ANSIBLE_NO_TARGET_SYSLOG: 'True',
      PYTHONUNBUFFERED: '1',
    },
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
    cancelSignal: request.signal,
    // SIGINT lets Ansible stop its workers ("User interrupted execution").
    killSignal: 'SIGINT',
    forceKillAfterDelay: STOP_GRACE_MS,
  });

  const decoder = new StringDecoder('utf8');
  let partial = '';
  // Each line masked before anything sees it (src/io/secret-mask.ts): log, progress and report.
  const onLine = (raw: string) => {
    const line = maskSecrets(raw);
    request.log.write(`${line}\n`);
    tail.push(line);
    if (tail.length > 20) tail.shift();
    const changed = reader.feed(line);
    if (changed !== undefined) request.onChanged?.(changed);
  };
  subprocess.all?.on('data', (chunk: Buffer) => {
    const lines = (partial + decoder.write(chunk)).split(/\r?\n/);
    partial = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  const result = await subprocess;
  partial += decoder.end();
  if (partial) onLine(partial);
  if (result.code === 'ENOENT')
    throw new BakeError(`${ANSIBLE_PLAYBOOK} not found on PATH: install ansible-core (scripts/setup.sh does)`);
  const exitCode = typeof result.exitCode === 'number' ? result.exitCode : -1;
  request.log.write(
    `# ${new Date().toISOString()} ${ANSIBLE_PLAYBOOK} finished: ${result.signal ? `killed by ${result.signal}` : `exit ${exitCode}`}\n`,
  );
  return {
    exitCode,
    interrupted: Boolean(request.signal?.aborted),
    counts: reader.recap.get(INVENTORY_HOST),
    changedTasks: reader.changedTasks,
    failedTasks: reader.failedTasks,
    tail: tail.filter((line) => line.trim() !== ''),
    durationMs: Date.now() - started,
  };
}

export function openLog(file: string): WriteStream {
  return createWriteStream(file, { flags: 'w' });
}

export function closeLog(log: WriteStream): Promise<void> {
  return new Promise((resolve) => log.end(() => resolve()));
}
