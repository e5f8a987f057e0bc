/**
 * One booted local VM (`local: {machine: vm}`): qemu-system-x86_64 under TCG (software
 * emulation: no KVM on bake's hosts), Debian's cloud kernel (vm-kernel.ts) and the instance's
 * layers as disks (vm-disks.ts), in the instance's own network namespace: a tap device there,
 * bridged with the veth pair a container's eth0 would be, so the VM has the container's address
 * and the host firewall guards it alike (instance-network.ts, host-firewall.ts).
 *
 * qemu starts as root only to open its disks, the console file and the tap device, then drops to
 * the instance's own host uid (`-runas`, nobody's on the host) under a seccomp sandbox (no exec,
 * no obsolete system calls, no scheduler or resource changes). It has no monitor socket: QMP is
 * on its stdin, a pipe only bake holds. Stopping asks the guest for a clean shutdown the way a
 * keyboard would (ctrl-alt-del; with -no-reboot qemu then exits), then kills it after a grace.
 *
 * With -no-reboot every reset ends qemu, so that the next boot can be another kernel (the one a
 * role installed): QMP's SHUTDOWN event says why it ended (`guest-reset` for a reboot inside the
 * guest, `guest-shutdown` for a poweroff), and `exited` tells whoever booted it, together with
 * whether bake had asked for the stop (its ctrl-alt-del is a reset to the guest too).
 *
 * Changing uid clears the kernel's parent-death signal, so qemu is started under a small root
 * shell that has it (src/files/dies-with-bake.ts) and passes SIGTERM on: the VM dies with bake.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { CloudError } from '../errors/index.js';
import { diesWithBake } from '../files/dies-with-bake.js';
import { answers, commandLineOf, sleep, stopProcessTree } from './processes.js';
import { isAlive } from './rootfs-lock.js';
import type { VmKernel } from './vm-kernel.js';

export const QEMU = 'qemu-system-x86_64';
/** Shutdown under TCG on a busy machine takes 10–40 s; a VM that hangs in it is killed after this. */
const POWEROFF_GRACE_MS = 90_000;
const SSH_PORT = 22;
/** How long one try waits for sshd's greeting. */
const GREETING_TIMEOUT_MS = 60_000;
/** The tap device in the instance's namespace (instance-network.ts bridges it). */
export const VM_TAP = 'tap0';

/**
 * Forwards SIGTERM (bake's death, or bake stopping it) to qemu, which runs as an unprivileged uid
 * the kernel's parent-death signal no longer reaches; exits with qemu's status. A constant:
 * qemu's command line arrives as arguments. The shell gives a background job /dev/null as stdin
 * before its redirections apply, so QMP's pipe is kept on fd 3 for it.
 */
const WRAPPER =
  'trap \'kill -TERM "$vm" 2>/dev/null\' TERM INT HUP; exec 3<&0; "$@" <&3 3<&- & vm=$!; while :; do wait "$vm"; status=$?; kill -0 "$vm" 2>/dev/null || exit "$status"; done';

/** How a VM's qemu ended. */
export interface VmExit {
  /** QMP's SHUTDOWN reason (`guest-reset`, `guest-shutdown`, `host-signal`, …); absent if qemu said none. */
  reason?: string;
  /** bake asked for it (stop()): never a reboot to follow. */
  stoppedByBake: boolean;
}

export interface VmStart {
  /** The kernel and initramfs to boot: bake's (vm-kernel.ts) or the image's own (image-kernel.ts). */
  kernel: Pick<VmKernel, 'vmlinuz' | 'initramfs'>;
  /** The writable disk (vda). */
  upperDisk: string;
  /** Read-only layer disks, top first (vdb, vdc, …). */
  layerDisks: string[];
  /** The instance's network namespace, with VM_TAP in it. */
  namespace: string;
  /** The instance's address and prefix: the initramfs gives it to eth0. */
  ip: string;
  prefixLength: number;
  /** Host uid and gid qemu runs as once its files are open. */
  runAs: number;
  memoryMiB: number;
  cpus: number;
  pidFile: string;
  consoleFile: string;
  /** Until sshd answers (default 600 s: a Debian kernel and systemd under software emulation on a busy machine). */
  readyTimeoutMs?: number;
}

/** qemu's arguments (pure): what the VM is, and what it may not do. */
export function qemuArguments(options: VmStart): string[] {
  const plain = (value: string, what: string) => {
    // qemu splits -drive/-chardev values at commas: bake's own paths never hold one, refuse rather than escape.
    if (/[,\n]/.test(value)) throw new CloudError(`${what} may not contain a comma: ${JSON.stringify(value)}`);
    return value;
  };
  if (!/^[0-9.]+$/.test(options.ip)) throw new CloudError(`not an instance address: ${options.ip}`);
  const drives = [
    `file=${plain(options.upperDisk, 'the VM disk path')},if=virtio,format=raw,cache=writeback,discard=unmap`,
    ...options.layerDisks.map(
      (disk) => `file=${plain(disk, 'a VM layer disk path')},if=virtio,format=raw,readonly=on,cache=writeback`,
    ),
  ];
  return [
    '-name',
    'bake-local-vm',
    '-machine',
    'q35',
    // One host thread runs all the guest's vCPUs in turn: with a thread per vCPU (MTTCG) a
    // kernel boot on a loaded host hung for good (soft lockup in machine_keyring_init, measured).
    '-accel',
    'tcg,thread=single',
    '-cpu',
    'max',
    '-smp',
    String(Math.max(1, Math.trunc(options.cpus))),
    '-m',
    String(Math.max(256, Math.trunc(options.memoryMiB))),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    // A guest reboot (and the ctrl-alt-del of a stop) ends qemu: bake boots it again, perhaps with another kernel.
    '-no-reboot',
    '-kernel',
    plain(options.kernel.vmlinuz, 'the VM kernel path'),
    '-initrd',
    plain(options.kernel.initramfs, 'the VM initramfs path'),
    '-append',
    [
      'console=ttyS0',
      // eth0 as in the container: the initramfs addresses it before systemd starts.
      'net.ifnames=0',
      'panic=5',
      `bake.layers=${options.layerDisks.length}`,
      `bake.ip=${options.ip}/${Math.trunc(options.prefixLength)}`,
    ].join(' '),
    ...drives.flatMap((drive) => ['-drive', drive]),
    '-netdev',
    `tap,id=net0,ifname=${VM_TAP},script=no,downscript=no`,
    '-device',
    'virtio-net-pci,netdev=net0',
    '-device',
    'virtio-rng-pci',
    '-chardev',
    `file,id=console,path=${plain(options.consoleFile, 'the console path')},append=on`,
    '-serial',
    'chardev:console',
    // QMP on stdin/stdout: a pipe of bake's, never a socket another user could open.
    '-chardev',
    'stdio,id=qmp,signal=off',
    '-mon',
    'chardev=qmp,mode=control',
    // elevateprivileges stays allowed only for -runas' own setuid, which happens after this filter is in place.
    '-sandbox',
    'on,obsolete=deny,spawn=deny,resourcecontrol=deny',
    '-runas',
    `${Math.trunc(options.runAs)}:${Math.trunc(options.runAs)}`,
  ];
}

export class BootedVm {
  private stopping = false;
  private ended = false;
  private shutdownReason: string | undefined;
  /** Resolves when qemu has exited, with why. */
  readonly exited: Promise<VmExit>;

  private constructor(
    readonly pid: number,
    private readonly child: ResultPromise,
    private readonly pidFile: string,
  ) {
    if (child.stdout)
      createInterface({ input: child.stdout }).on('line', (line) => {
        this.shutdownReason = shutdownReasonOf(line) ?? this.shutdownReason;
      });
    // A write to a qemu that has just exited must not become an unhandled EPIPE.
    child.stdin?.on('error', () => undefined);
    const ended = (): VmExit => {
      this.ended = true;
      return { reason: this.shutdownReason, stoppedByBake: this.stopping };
    };
    this.exited = child.then(ended, ended);
  }

  static async boot(options: VmStart): Promise<BootedVm> {
    const consoleStart = await stat(options.consoleFile).then(
      (s) => s.size,
      () => 0,
    );
    const [command, args] = diesWithBake('SIGTERM', 'ip', [
      'netns',
      'exec',
      options.namespace,
      'sh',
      '-c',
      WRAPPER,
      'sh',
      QEMU,
      ...qemuArguments(options),
    ]);
    const child = execa(command, args, {
      stdin: 'pipe',
      // QMP: its events say why qemu ended; the console file has the guest's output, qemu's errors go there too.
      stdout: 'pipe',
      stderr: { file: options.consoleFile, append: true },
      // Its own process group: a Ctrl-C meant for bake must not power the VM off under Packer.
      detached: true,
      reject: false,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      extendEnv: false,
    });
    const pid = child.pid;
    if (pid === undefined) {
      const result = await child;
      throw new CloudError(`could not start ${QEMU}: ${result.message}`);
    }
    await writeFile(options.pidFile, `${pid}\n`);
    // Events (SHUTDOWN and its reason) come only once capabilities are negotiated.
    child.stdin?.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
    let exited = false;
    void child.then(() => {
      exited = true;
    });
    const vm = new BootedVm(pid, child, options.pidFile);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 600_000);
    // Patient: sshd re-executes itself for every connection, which takes seconds under emulation.
    // Connections given up on early pile up as unauthenticated ones until sshd's MaxStartups
    // refuses everyone, so each try waits long for the greeting and tries are spaced out.
    while (!(await answers(options.ip, SSH_PORT, 'SSH-', GREETING_TIMEOUT_MS))) {
      if (exited || Date.now() > deadline) {
        const stoppedHere = !exited;
        if (!exited) await stopProcessTree(pid, 5_000, child);
        await rm(options.pidFile, { force: true });
        const tail = (await readFile(options.consoleFile).catch(() => Buffer.alloc(0)))
          .subarray(consoleStart)
          .toString('utf8');
        const lines = tail.trim().split(/\r?\n/).slice(-4).join(' | ');
        throw new CloudError(
          `VM at ${options.ip} ${stoppedHere ? 'did not answer on port 22 in time' : 'stopped while booting'}: ${lines || 'no console output'}`,
        );
      }
      await sleep(2000);
    }
    return vm;
  }

  /** A clean shutdown (ctrl-alt-del through QMP; -no-reboot ends qemu), killed after a grace if it hangs. */
  async stop(): Promise<void> {
    this.stopping = true;
    const qmp = this.child.stdin;
    if (qmp && !qmp.destroyed && !this.ended) {
      const keys = ['ctrl', 'alt', 'delete'].map((data) => ({ type: 'qcode', data }));
      qmp.write(`${JSON.stringify({ execute: 'send-key', arguments: { keys } })}\n`);
    }
    // SIGTERM only after the grace: the wrapper passes it on and qemu quits at once, unclean.
    const deadline = Date.now() + POWEROFF_GRACE_MS;
    while (!this.ended && Date.now() < deadline) await sleep(200);
    qmp?.destroy();
    if (!this.ended) await stopProcessTree(this.pid, 10_000, this.child);
    await rm(this.pidFile, { force: true });
  }
}

/** The reason of a QMP SHUTDOWN event line (`{"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-reset"}}`). */
export function shutdownReasonOf(line: string): string | undefined {
  try {
    const message = JSON.parse(line) as { event?: unknown; data?: { reason?: unknown } };
    return message.event === 'SHUTDOWN' && typeof message.data?.reason === 'string' ? message.data.reason : undefined;
  } catch {
    return undefined;
  }
}

/** Stops a VM a killed bake left running: only if the recorded pid still runs qemu on this very disk. */
export async function stopOrphanVm(pidFile: string, upperDisk: string): Promise<void> {
  const pid = Number.parseInt((await readFile(pidFile, 'utf8').catch(() => '')).trim(), 10);
  if (Number.isInteger(pid) && isAlive(pid)) {
    const command = await commandLineOf(pid);
    if (command.includes(QEMU) && command.includes(`file=${upperDisk},`)) await stopProcessTree(pid, 10_000);
  }
  await rm(pidFile, { force: true });
}

/** Fails early with the package to install when the host has no qemu. */
export async function requireQemu(): Promise<void> {
  const found = await execa(QEMU, ['--version'], { reject: false });
  if (found.failed)
    throw new CloudError(
      `a local VM (local: {machine: vm}) boots with ${QEMU}, which is not installed (apt-get install qemu-system-x86, or scripts/setup.sh)`,
    );
}
