/**
 * One booted instance: `systemd-nspawn --boot` runs the root filesystem's own systemd as PID 1
 * in fresh user, PID, mount, UTS, IPC and network namespaces, with /proc, /sys, /dev and /run of
 * its own. The user namespace maps the instance's uids 0–65535 to host uids of its own, so its
 * root is nobody on the host; the network namespace belongs to that user namespace, so the
 * instance manages its own network (firewall, routes, net.* sysctls) and nobody else's. nspawn
 * runs in a cgroup of its own, which it hands to the instance's systemd. nspawn is a child of bake; its pid is recorded so that
 * a later bake can stop a container a killed one left running. SIGTERM to nspawn powers the
 * container off cleanly (nspawn passes it on to systemd as SIGRTMIN+3); SIGKILL after a grace
 * period ends it for sure, since every process inside dies with its PID 1.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { CloudError } from '../errors/index.js';
import { answers, commandLineOf, sleep, stopProcessTree } from './processes.js';
import { INSTANCE_UID_COUNT } from './instance-root.js';
import { isAlive } from './rootfs-lock.js';
import { diesWithBake } from '../files/dies-with-bake.js';

export const NSPAWN = 'systemd-nspawn';
/** A clean poweroff takes 1–3 s; a container that hangs in shutdown is killed after this. */
const POWEROFF_GRACE_MS = 15_000;
const SSH_PORT = 22;

export interface ContainerStart {
  rootfs: string;
  /** Unique on this machine while it runs (nspawn keeps per-machine state under /run). */
  machine: string;
  /** First host uid of the instance's range (instance-root.ts); its layers are mounted for it. */
  uidBase: number;
  /** Cgroup directories (one per hierarchy) nspawn starts in and delegates to the instance. */
  cgroups: string[];
  /** Called with the instance's init pid once its namespaces exist, before boot is waited for: wires its network. */
  onStarted: (initPid: number) => Promise<void>;
  /** The instance's address: boot is done for bake once sshd answers there. */
  ip: string;
  pidFile: string;
  /** The console (systemd's boot messages), appended to: what GetConsoleOutput returns. */
  consoleFile: string;
  /** How long boot may take until sshd answers (default 180 s: a loaded machine, cloud-init's first run). */
  readyTimeoutMs?: number;
}

export class BootedContainer {
  private constructor(
    readonly pid: number,
    private readonly child: ResultPromise,
    private readonly pidFile: string,
  ) {}

  /** Boots and resolves once the instance's sshd greets on port 22; rejects with the console's last lines if boot fails. */
  static async boot(options: ContainerStart): Promise<BootedContainer> {
    const consoleStart = await stat(options.consoleFile).then(
      (s) => s.size,
      () => 0,
    );
    // A container never outlives the bake that booted it: SIGTERM (a clean poweroff) when bake dies.
    // The kernel keeps that signal through sh's exec of nspawn (same process).
    const [command, args] = diesWithBake('SIGTERM', 'sh', [
      // Enters the instance's cgroups, then becomes nspawn (same pid): a constant script, values as arguments.
      '-c',
      'for dir in "$@"; do case $dir in --) break ;; esac; echo $$ > "$dir/cgroup.procs" || exit 1; done; while [ "$1" != -- ]; do shift; done; shift; exec "$@"',
      'sh',
      ...options.cgroups,
      '--',
      NSPAWN,
      '--quiet',
      // No machined or host systemd here: stay in the cgroup bake made for the instance, register nowhere.
      '--register=no',
      '--keep-unit',
      '--boot',
      `--directory=${options.rootfs}`,
      `--machine=${options.machine}`,
      `--private-users=${options.uidBase}:${INSTANCE_UID_COUNT}`,
      // The layers are idmapped for the range already (instance-root.ts): nothing to chown.
      '--private-users-ownership=off',
      '--private-network',
      // The boot messages go to the console file; nothing is read from bake's stdin.
      '--console=read-only',
      // The image's own files stay as baked: no host resolv.conf, timezone or journal link.
      '--resolv-conf=off',
      '--timezone=off',
      '--link-journal=no',
    ]);
    const child = execa(command, args, {
      stdin: 'ignore',
      // Its own process group: a Ctrl-C meant for bake must not power the instance off under
      // Packer, which still cleans up through the API; bake stops it when it is time.
      detached: true,
      stdout: { file: options.consoleFile, append: true },
      stderr: { file: options.consoleFile, append: true },
      reject: false,
      env: { SYSTEMD_COLORS: '0' },
    });
    const pid = child.pid;
    if (pid === undefined) {
      const result = await child;
      throw new CloudError(`could not start ${NSPAWN}: ${result.message}`);
    }
    await writeFile(options.pidFile, `${pid}\n`);
    let exited = false;
    void child.then(() => {
      exited = true;
    });
    const fail = async (why: string): Promise<never> => {
      // Stopped by bake here: the reason is bake's, not the console's shutdown lines.
      const stoppedHere = !exited;
      if (!exited) await stopProcessTree(pid, POWEROFF_GRACE_MS, child);
      await rm(options.pidFile, { force: true });
      const tail = (await readFile(options.consoleFile).catch(() => Buffer.alloc(0)))
        .subarray(consoleStart)
        .toString('utf8');
      const lines = tail.trim().split(/\r?\n/).slice(-4).join(' | ');
      throw new CloudError(
        `instance at ${options.ip} ${stoppedHere ? why : 'stopped while booting'}: ${lines || 'no console output'}`,
      );
    };
    const startedBy = Date.now() + 60_000;
    let init: number | undefined;
    while ((init = initOf(pid)) === undefined) {
      if (exited || Date.now() > startedBy) return fail('had no init process within 60 s');
      await sleep(20);
    }
    await options.onStarted(init).catch((error: Error) => fail(error.message));
    const deadline = Date.now() + (options.readyTimeoutMs ?? 180_000);
    while (!(await answers(options.ip, SSH_PORT, 'SSH-'))) {
      if (exited || Date.now() > deadline) return fail('did not answer on port 22 in time');
      // A connection attempt to a local address costs next to nothing; every poll interval is
      // added, on average half of it, to the boot every waiter then sees.
      await sleep(100);
    }
    return new BootedContainer(pid, child, options.pidFile);
  }

  /** Powers the container off (killing it if it hangs) and waits until nspawn is gone. */
  async stop(): Promise<void> {
    await stopProcessTree(this.pid, POWEROFF_GRACE_MS, this.child);
    await rm(this.pidFile, { force: true });
  }
}

/** The instance's init: the child of nspawn that lives in a user namespace other than bake's. */
function initOf(nspawnPid: number): number | undefined {
  const own = readlinkSync('/proc/self/ns/user');
  let children: string[] = [];
  try {
    children = readdirSync(`/proc/${nspawnPid}/task`).flatMap((task) =>
      readFileSync(`/proc/${nspawnPid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean),
    );
  } catch {
    return undefined;
  }
  for (const child of children) {
    try {
      if (readlinkSync(`/proc/${child}/ns/user`) !== own) return Number(child);
    } catch {
      // gone already
    }
  }
  return undefined;
}

/**
 * Stops a container a killed bake left running: only if the recorded pid is still an nspawn
 * booting this very root filesystem (the pid may since belong to something else).
 */
export async function stopOrphanContainer(pidFile: string, rootfs: string): Promise<void> {
  const pid = Number.parseInt((await readFile(pidFile, 'utf8').catch(() => '')).trim(), 10);
  if (Number.isInteger(pid) && isAlive(pid)) {
    const command = await commandLineOf(pid);
    if (command.includes(NSPAWN) && command.includes(`--directory=${rootfs} `))
      await stopProcessTree(pid, POWEROFF_GRACE_MS);
  }
  await rm(pidFile, { force: true });
}

/** Fails early with the package to install when the host has no systemd-nspawn. */
export async function requireNspawn(): Promise<void> {
  const found = await execa(NSPAWN, ['--version'], { reject: false });
  if (found.failed)
    throw new CloudError(
      `the local cloud boots instances with ${NSPAWN}, which is not installed (apt-get install systemd-container, or scripts/setup.sh)`,
    );
}
