/**
 * One booted instance: `systemd-nspawn --boot` runs the root filesystem's own systemd as PID 1
 * in fresh PID, mount, UTS and IPC namespaces, inside the instance's network namespace, with
 * /proc, /sys, /dev and /run of its own. nspawn is a child of bake; its pid is recorded so that
 * a later bake can stop a container a killed one left running. SIGTERM to nspawn powers the
 * container off cleanly (nspawn passes it on to systemd as SIGRTMIN+3); SIGKILL after a grace
 * period ends it for sure, since every process inside dies with its PID 1.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { CloudError } from '../errors/index.js';
import { answers, commandLineOf, sleep, stopProcessTree } from './processes.js';
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
  /** Path of the network namespace to join (/run/netns/NAME). */
  netnsPath: string;
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
    const [command, args] = diesWithBake('SIGTERM', NSPAWN, [
      '--quiet',
      // No machined or host systemd here: stay in bake's own cgroup, register nowhere.
      '--register=no',
      '--keep-unit',
      '--boot',
      `--directory=${options.rootfs}`,
      `--machine=${options.machine}`,
      `--network-namespace-path=${options.netnsPath}`,
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
    const deadline = Date.now() + (options.readyTimeoutMs ?? 180_000);
    while (!(await answers(options.ip, SSH_PORT, 'SSH-'))) {
      if (exited || Date.now() > deadline) {
        if (!exited) await stopProcessTree(pid, POWEROFF_GRACE_MS, child);
        await rm(options.pidFile, { force: true });
        const tail = (await readFile(options.consoleFile).catch(() => Buffer.alloc(0)))
          .subarray(consoleStart)
          .toString('utf8');
        const lines = tail.trim().split(/\r?\n/).slice(-4).join(' | ');
        throw new CloudError(
          `instance at ${options.ip} ${exited ? 'stopped while booting' : 'did not answer on port 22 in time'}: ${lines || 'no console output'}`,
        );
      }
      await sleep(250);
    }
    return new BootedContainer(pid, child, options.pidFile);
  }

  /** Powers the container off (killing it if it hangs) and waits until nspawn is gone. */
  async stop(): Promise<void> {
    await stopProcessTree(this.pid, POWEROFF_GRACE_MS, this.child);
    await rm(this.pidFile, { force: true });
  }
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
