/**
 * The local cloud's machines: an instance is a Debian root filesystem, its own upper directory
 * over its image's read-only layers (overlayfs, mounted at `<stateDir>/instances/<id>/rootfs`
 * while it runs), booted by systemd-nspawn (systemd as PID 1, cloud-init, its own sshd) in a
 * network namespace of its own. Packer, Ansible and bake reach it over SSH
 * at its address, as they would reach an EC2 instance; apt inside reaches the Debian mirror
 * through a caching proxy on the host's end of its veth pair.
 */
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { CloudError } from '../errors/index.js';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { APT_PROXY_PORT, AptProxy, localAptOrigins } from './apt-proxy.js';
import { BootedContainer, requireNspawn, stopOrphanContainer } from './booted-container.js';
import { BootedVm, requireQemu, stopOrphanVm, VM_TAP, type VmExit } from './booted-vm.js';
import { hostArchitecture, isArchitecture, type Architecture } from './architecture.js';
import { BINFMT_MISC, requireEmulator } from './emulation.js';
import {
  baseImageArchitecture,
  type InstanceEndpoint,
  type InstanceHost,
  type LaunchRequest,
  type LocalMachineKind,
} from './instance-host.js';
import { guardInstanceNetwork, unguardInstanceNetwork } from './host-firewall.js';
import { instanceCgroups, removeInstanceCgroups } from './instance-cgroup.js';
import {
  allowTcpPorts,
  attachInstanceNetwork,
  attachVmNetwork,
  claimInstanceNetwork,
  detachInstanceNetwork,
  networkOfSlot,
  refuseTcpPort,
  removeInstanceNetwork,
  removeNetworkIfAbandoned,
  type InstanceNetwork,
} from './instance-network.js';
import { mountInstanceRoot, uidBaseOfSlot } from './instance-root.js';
import { writeInstanceSeed } from './instance-seed.js';
import { makeExt4Image, makeUpperDisk, readUpperDisk } from './vm-disks.js';
import { ensureVmKernel, MAX_VM_LAYERS, type VmKernel } from './vm-kernel.js';
import { findImageKernel, initramfsFor } from './image-kernel.js';
import { RestartBudget, VM_RESTARTS } from './vm-restarts.js';
import { sizeVm, type HostCapacity } from './vm-size.js';
import { ImageStore, LAYERS_FILE, readLayers, resumeCapture } from './rootfs-images.js';
import { hostAptSources, mirrorUris } from './rootfs-mirror.js';
import {
  ensureBaseRootfs,
  killProcessesInside,
  removeRootfs,
  requireRoot,
  rootfsCacheDir,
  unmountUnder,
} from './rootfs.js';

export interface BootHostOptions {
  stateDir: string;
  log?: (line: string) => void;
  /** Lines a user should see without asking for debug output (the first-use debootstrap); default: log. */
  notice?: (line: string) => void;
  /** Where the debootstrap base and the apt cache are kept (default $BAKE_ROOTFS_CACHE, else <stateDir>/rootfs). */
  rootfsCache?: string;
  /** Where the kernel lists its binfmt handlers (default /proc/sys/fs/binfmt_misc; tests give a folder of their own). */
  binfmtDir?: string;
}

/** In an instance's folder: `vm` for an instance launched as a local VM; absent for a container. */
export const MACHINE_KIND_FILE = 'machine';

/** EC2 instances listen for SSH on 22; each local one does so at its own address. */
export const INSTANCE_SSH_PORT = 22;

interface Running {
  machine: BootedContainer | BootedVm;
  network: InstanceNetwork;
  endpoint: InstanceEndpoint;
  /** A VM's reboots, counted against VM_RESTARTS. */
  restarts?: RestartBudget;
  /** A VM being booted again after a guest reboot: a stop waits for it. */
  restarting?: Promise<void>;
}

/** What the host can give a VM now: its cores, and MemAvailable. */
async function hostCapacity(): Promise<HostCapacity> {
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const availableKiB = Number(/^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  return { cores: availableParallelism(), availableMiB: availableKiB / 1024 };
}

/** The last lines of an instance's console, on one line: why a VM stopped. */
async function consoleTail(consoleFile: string): Promise<string> {
  const text = (await readFile(consoleFile).catch(() => Buffer.alloc(0))).toString('utf8');
  return text.trim().split(/\r?\n/).slice(-4).join(' | ') || 'no console output';
}

/** Runs independent steps side by side; fails with the first failure once every step has ended. */
async function sideBySide(...steps: Array<() => Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(steps.map((step) => step()));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

export function createBootHost(options: BootHostOptions): InstanceHost {
  const stateDir = path.resolve(options.stateDir);
  const log = options.log ?? (() => undefined);
  const instancesDir = path.join(stateDir, 'instances');
  const images = new ImageStore(path.join(stateDir, 'images'), () => layersOfInstances());
  const cacheDir = options.rootfsCache ? path.resolve(options.rootfsCache) : rootfsCacheDir(stateDir);
  const proxy = new AptProxy({
    cacheDir: path.join(cacheDir, 'apt-archives'),
    mirrors: mirrorUris(hostAptSources(), [process.env.BAKE_DEBIAN_MIRROR]),
    localOrigins: localAptOrigins(process.env.BAKE_LOCAL_APT_REPOSITORIES),
    log,
  });
  const running = new Map<string, Running>();
  /**
   * Networks of instances stopped while this bake runs: kept, as EC2 keeps a stopped instance's
   * private address, so that starting it again gives the same address. Released at terminate
   * and when bake exits.
   */
  const parked = new Map<string, InstanceNetwork>();
  /** Instances whose SSH is held back (holdSsh): until when, and the timer that lets it through. */
  const sshHolds = new Map<string, { until: number; timer: NodeJS.Timeout }>();
  const guestStopListeners: Array<(instanceId: string, reason: string) => void> = [];
  let vmKernel: Promise<VmKernel> | undefined;
  const bases = new Map<Architecture, Promise<string>>();
  const binfmtDir = options.binfmtDir ?? BINFMT_MISC;
  let prepared: Promise<void> | undefined;

  const files = (instanceId: string) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(instanceId))
      throw new CloudError(`not an instance id: ${JSON.stringify(instanceId)}`);
    const dir = path.join(instancesDir, instanceId);
    return {
      dir,
      /** Where the overlay is mounted while the instance runs (empty otherwise). */
      rootfs: path.join(dir, 'rootfs'),
      /** The instance's own changes, and overlayfs's scratch directory beside them. */
      upper: path.join(dir, 'upper'),
      work: path.join(dir, 'work'),
      /** Mount points of the idmapped layers the overlay is made of (instance-root.ts). */
      mounts: path.join(dir, 'mounts'),
      /** RunInstances' UserData, kept by bake: never read back from the image, which may hold a link there. */
      userData: path.join(dir, 'user-data'),
      /** The network slot the instance last had: it gets the same address back when free. */
      slot: path.join(dir, 'network-slot'),
      pid: path.join(dir, 'nspawn.pid'),
      console: path.join(dir, 'console.log'),
      /** `vm` for an instance launched as a local VM (booted-vm.ts); absent for a container. */
      machineKind: path.join(dir, MACHINE_KIND_FILE),
      /** A VM's disks while it runs: its layers' and its own (vm-disks.ts). */
      disks: path.join(dir, 'disks'),
      upperDisk: path.join(dir, 'disks', 'upper.ext4'),
      vmPid: path.join(dir, 'qemu.pid'),
      /** The instance's architecture, when not x86_64: checked for an emulator at every boot. */
      architecture: path.join(dir, 'architecture'),
      /** RunInstances' instance type: a VM's vCPUs and memory (vm-size.ts). */
      instanceType: path.join(dir, 'instance-type'),
      /** The image's own kernel and bake's initramfs for it, when the VM boots that (image-kernel.ts). */
      imageVmlinuz: path.join(dir, 'disks', 'vmlinuz'),
      imageInitramfs: path.join(dir, 'disks', 'initramfs.cpio'),
    };
  };

  /** Whether the instance has a filesystem here (its layer list, written last at launch). */
  const exists = (instanceId: string) => existsSync(path.join(files(instanceId).dir, LAYERS_FILE));

  /** Every layer some instance of this host stands on: images keep those. */
  async function layersOfInstances(): Promise<string[]> {
    const layers: string[] = [];
    for (const name of await readdir(instancesDir).catch(() => [] as string[])) {
      if (!name.startsWith('.')) layers.push(...(await readLayers(path.join(instancesDir, name)).catch(() => [])));
    }
    return layers;
  }

  const recordedSlot = async (instanceId: string): Promise<number | undefined> => {
    const text = (await readFile(files(instanceId).slot, 'utf8').catch(() => '')).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  };

  /** Once per process: clean up after a bake that died (orphan containers, namespaces, half copies, mounts). */
  const prepare = () =>
    (prepared ??= (async () => {
      await requireRoot('instance host');
      await requireNspawn();
      // Root only: the layers keep the image's own uids on disk (admin is 1000), and host uid
      // 1000 must not reach them by path.
      for (const dir of [instancesDir, images.dir]) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await chmod(dir, 0o700);
      }
      await images.sweep();
      for (const name of await readdir(instancesDir)) {
        const dir = path.join(instancesDir, name);
        if (name.startsWith('.')) {
          if (name.endsWith('.terminating')) await removeRootfs(dir);
          continue;
        }
        const f = files(name);
        await stopOrphanContainer(f.pid, f.rootfs);
        await stopOrphanVm(f.vmPid, f.upperDisk);
        await resumeCapture(f.dir, images.dir);
        await releaseIfAbandoned(name);
      }
      await unmountUnder(stateDir);
    })());

  const baseRootfs = (architecture: Architecture) => {
    let base = bases.get(architecture);
    if (!base) {
      base = ensureBaseRootfs({ cacheDir, log: options.notice ?? log, architecture });
      bases.set(architecture, base);
      // A failed debootstrap (mirror down) is retried by the next launch, not remembered.
      base.catch(() => bases.delete(architecture));
    }
    return base;
  };

  const kernel = () => {
    vmKernel ??= ensureVmKernel({ cacheDir, log: options.notice ?? log });
    vmKernel.catch(() => (vmKernel = undefined));
    return vmKernel;
  };

  const machineOf = async (instanceId: string): Promise<LocalMachineKind> =>
    (await readFile(files(instanceId).machineKind, 'utf8').catch(() => '')).trim() === 'vm' ? 'vm' : 'container';

  /**
   * A VM's changes back into its upper directory (after it powered off, or after a bake that
   * died while it ran), and its disks gone: from here on the instance is what a container's
   * files would be, for CreateImage, a container launch from its image, or the next VM boot.
   */
  async function collectVmDisks(instanceId: string): Promise<void> {
    const f = files(instanceId);
    await readUpperDisk(f.upperDisk, f.upper, path.join(f.dir, 'disk-mount'));
    await removeRootfs(f.disks);
  }

  const recordedArchitecture = async (instanceId: string): Promise<Architecture> => {
    const text = (await readFile(files(instanceId).architecture, 'utf8').catch(() => '')).trim();
    return isArchitecture(text) ? text : 'x86_64';
  };

  /** RunInstances' UserData, bytes as given (cloud-init handles gzip and MIME): temp file, then rename. */
  async function keepUserData(file: string, userData: Buffer): Promise<void> {
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, userData, { mode: 0o600, flag: 'w' });
    await rename(temp, file);
  }

  /** The instance type a VM is sized by (vm-size.ts), read at each boot. */
  async function recordInstanceType(instanceId: string, instanceType: string | undefined): Promise<void> {
    if (instanceType && /^[a-z0-9.-]+$/.test(instanceType))
      await writeFileAtomic(files(instanceId).instanceType, `${instanceType}\n`);
  }

  /** Unmounts the instance's root and the idmapped layers under it. */
  async function unmountInstance(instanceId: string): Promise<void> {
    const f = files(instanceId);
    await unmountUnder(f.rootfs);
    await unmountUnder(f.mounts);
  }

  /** After a crash: the instance's slot, namespace and cgroups, unless a living bake holds the slot now. */
  async function releaseIfAbandoned(instanceId: string): Promise<void> {
    const slot = await recordedSlot(instanceId);
    if (slot === undefined) return;
    const network = networkOfSlot(slot);
    if (await removeNetworkIfAbandoned(network)) {
      await unguardInstanceNetwork(network, APT_PROXY_PORT);
      await removeInstanceCgroups(await instanceCgroups(network.namespace));
    }
  }

  /** Network, seed, proxy, boot: until sshd answers. `userData` undefined keeps what the instance was launched with. */
  async function boot(instanceId: string, authorizedKey: string, userData?: Buffer): Promise<InstanceEndpoint> {
    const f = files(instanceId);
    if (!exists(instanceId)) throw new CloudError(`instance ${instanceId} has no filesystem on this host`);
    await stopOrphanContainer(f.pid, f.rootfs);
    await stopOrphanVm(f.vmPid, f.upperDisk);
    await collectVmDisks(instanceId);
    // Before anything is claimed: the handler may have gone since the instance last ran.
    const architecture = await recordedArchitecture(instanceId);
    await requireEmulator(architecture, binfmtDir);
    const started = Date.now();
    const network = parked.get(instanceId) ?? (await claimInstanceNetwork(await recordedSlot(instanceId)));
    parked.delete(instanceId);
    const uidBase = uidBaseOfSlot(network.slot);
    const cgroups = await instanceCgroups(network.namespace);
    try {
      await writeFileAtomic(f.slot, `${network.slot}\n`);
      // The root filesystem, and the firewall and cgroups: independent, side by side.
      const mountRoot = async () => {
        // Mounted afresh at every boot: the uid range follows the slot, which may have changed.
        await unmountInstance(instanceId);
        await mountInstanceRoot(f, await readLayers(f.dir), uidBase);
        if (userData) await keepUserData(f.userData, userData);
        await writeInstanceSeed(f.rootfs, uidBase, {
          instanceId,
          ip: network.ip,
          authorizedKey,
          userData: userData ?? (await readFile(f.userData).catch(() => undefined)),
          aptProxy: `${network.hostIp}:${APT_PROXY_PORT}`,
          emulated: architecture !== hostArchitecture(),
        });
      };
      const fence = async () => {
        await guardInstanceNetwork(network, APT_PROXY_PORT);
        await removeInstanceCgroups(cgroups);
        for (const dir of cgroups) await mkdir(dir, { recursive: true });
      };
      await sideBySide(mountRoot, fence);
      if ((await machineOf(instanceId)) === 'vm') {
        const vm = await bootVm(instanceId, network, uidBase, true);
        const endpoint = { ip: network.ip, sshPort: INSTANCE_SSH_PORT };
        const entry: Running = { machine: vm, network, endpoint, restarts: new RestartBudget(VM_RESTARTS) };
        running.set(instanceId, entry);
        watchVm(instanceId, entry, vm);
        log(`${instanceId}: VM booted at ${network.ip} in ${Date.now() - started} ms`);
        return endpoint;
      }
      const prepared = Date.now();
      const container = await BootedContainer.boot({
        rootfs: f.rootfs,
        machine: network.namespace,
        uidBase,
        cgroups,
        onStarted: async (initPid) => {
          await attachInstanceNetwork(network, initPid);
          // The host end of the pair exists only now.
          await proxy.listen(network.hostIp);
        },
        ip: network.ip,
        pidFile: f.pid,
        consoleFile: f.console,
      });
      const endpoint = { ip: network.ip, sshPort: INSTANCE_SSH_PORT };
      running.set(instanceId, { machine: container, network, endpoint });
      log(
        `${instanceId}: booted at ${network.ip} in ${Date.now() - started} ms (nspawn after ${prepared - started} ms)`,
      );
      // Rebooted while its SSH is still held (CreateImage reboots): held again for the rest of it.
      if ((sshHolds.get(instanceId)?.until ?? 0) > Date.now()) await refuseTcpPort(network, endpoint.sshPort);
      return endpoint;
    } catch (error) {
      await proxy.unlisten(network.hostIp);
      await removeInstanceNetwork(network).catch(() => undefined);
      await unguardInstanceNetwork(network, APT_PROXY_PORT);
      await removeInstanceCgroups(cgroups);
      await unmountInstance(instanceId).catch(() => undefined);
      await collectVmDisks(instanceId).catch(() => undefined);
      throw error;
    }
  }

  /** Powers off; `keepNetwork` parks the instance's address for its next start (StopInstances). */
  async function stopInstance(instanceId: string, keepNetwork = false): Promise<void> {
    const f = files(instanceId);
    const started = Date.now();
    if (!keepNetwork) releaseSshHold(instanceId);
    const entry = running.get(instanceId);
    running.delete(instanceId);
    const network = entry?.network ?? parked.get(instanceId);
    parked.delete(instanceId);
    if (entry) {
      // A VM booting again after a guest reboot: stopped once it is up (or has failed to come up).
      await entry.restarting;
      await entry.machine.stop();
    }
    const poweredOff = Date.now();
    const releaseNetwork = async () => {
      if (!network) return;
      await proxy.unlisten(network.hostIp);
      await unguardInstanceNetwork(network, APT_PROXY_PORT);
      await removeInstanceCgroups(await instanceCgroups(network.namespace));
      if (keepNetwork) {
        await detachInstanceNetwork(network);
        parked.set(instanceId, network);
      } else await removeInstanceNetwork(network);
    };
    // Nothing should outlive PID 1; this is for what a crash may have left. Unmounting the
    // root filesystem leaves the instance's changes in its upper directory.
    const releaseFiles = async () => {
      await killProcessesInside(f.rootfs);
      await unmountInstance(instanceId);
      if (existsSync(f.dir)) await collectVmDisks(instanceId);
    };
    if (entry) {
      // Powered off: its address and its files are each a few commands, independent of the other.
      await sideBySide(releaseNetwork, releaseFiles);
      log(`${instanceId}: stopped in ${Date.now() - started} ms (poweroff ${poweredOff - started} ms)`);
      return;
    }
    await releaseNetwork();
    await stopOrphanContainer(f.pid, f.rootfs);
    await stopOrphanVm(f.vmPid, f.upperDisk);
    if (!network) await releaseIfAbandoned(instanceId);
    await releaseFiles();
  }

  /**
   * Boots the instance as a VM: the seed is written through the same overlay a container gets
   * (so it lands in the upper directory), the kernel is looked for in that overlay (the image's
   * own, else bake's), which is then unmounted and made into the VM's disks. `firstBoot`: the
   * network is made; a reboot keeps the tap device and bridge the VM had.
   */
  async function bootVm(
    instanceId: string,
    network: InstanceNetwork,
    uidBase: number,
    firstBoot: boolean,
  ): Promise<BootedVm> {
    const f = files(instanceId);
    await requireQemu();
    const bakeKernel = await kernel();
    const imageKernel = await findImageKernel(f.rootfs);
    await unmountInstance(instanceId);
    const lowers = await readLayers(f.dir);
    if (lowers.length + 1 > MAX_VM_LAYERS)
      throw new CloudError(
        `${instanceId} stands on ${lowers.length} layers; a local VM stacks at most ${MAX_VM_LAYERS - 1} (build it as a container)`,
      );
    await mkdir(f.disks, { recursive: true, mode: 0o700 });
    // The image's kernel has its modules in the image; bake's come as one more layer.
    const layerDisks = imageKernel ? [] : [bakeKernel.modulesDisk];
    for (const [index, lower] of lowers.entries()) {
      const disk = path.join(f.disks, `layer-${index}.ext4`);
      await makeExt4Image(disk, lower);
      layerDisks.push(disk);
    }
    let bootKernel = { vmlinuz: bakeKernel.vmlinuz, initramfs: bakeKernel.initramfs };
    if (imageKernel) {
      await writeFile(f.imageVmlinuz, imageKernel.vmlinuz, { mode: 0o600 });
      await writeFile(f.imageInitramfs, initramfsFor(await readFile(bakeKernel.initramfs), imageKernel), {
        mode: 0o600,
      });
      bootKernel = { vmlinuz: f.imageVmlinuz, initramfs: f.imageInitramfs };
    }
    await appendFile(
      f.console,
      `bake: booting ${imageKernel ? `the image's kernel ${imageKernel.version}` : `bake's VM kernel ${bakeKernel.version}`}\n`,
    );
    await makeUpperDisk(f.upperDisk, f.upper, path.join(f.dir, 'disk-staging'));
    const instanceType = (await readFile(f.instanceType, 'utf8').catch(() => '')).trim() || undefined;
    const size = sizeVm(instanceType, await hostCapacity());
    // Said once per start, not again at every reboot.
    if (size.capped && firstBoot) {
      await appendFile(f.console, `${size.capped}\n`);
      log(`${instanceId}: ${size.capped}`);
    }
    if (firstBoot) {
      await attachVmNetwork(network, VM_TAP);
      await proxy.listen(network.hostIp);
    }
    return BootedVm.boot({
      kernel: bootKernel,
      upperDisk: f.upperDisk,
      layerDisks,
      namespace: network.namespace,
      ip: network.ip,
      prefixLength: network.prefixLength,
      runAs: uidBase,
      memoryMiB: size.memoryMiB,
      cpus: size.cpus,
      pidFile: f.vmPid,
      consoleFile: f.console,
    });
  }

  /** When qemu ends without bake asking: a guest reboot boots the same instance again, as EC2 does; anything else stops it. */
  function watchVm(instanceId: string, entry: Running, vm: BootedVm): void {
    void vm.exited.then((exit) => {
      if (exit.stoppedByBake || running.get(instanceId) !== entry) return;
      entry.restarting = afterGuestExit(instanceId, entry, exit)
        .catch((error: Error) => log(`${instanceId}: after its VM ended: ${error.message}`))
        .finally(() => (entry.restarting = undefined));
    });
  }

  /**
   * The guest ended its VM. A reboot: the same instance (id, address, network namespace, tap,
   * upper directory with what it wrote) boots again, perhaps with the kernel it just installed,
   * and stays `running` for the API throughout. A poweroff, a reboot past VM_RESTARTS, or a
   * reboot that does not come back: stopped as StopInstances would, and the API is told why.
   */
  async function afterGuestExit(instanceId: string, entry: Running, exit: VmExit): Promise<void> {
    const f = files(instanceId);
    let reason: string;
    if (exit.reason === 'guest-reset' && entry.restarts?.take()) {
      const started = Date.now();
      try {
        await appendFile(f.console, `bake: ${instanceId} rebooted; booting it again\n`);
        await collectVmDisks(instanceId);
        await mountInstanceRoot(f, await readLayers(f.dir), uidBaseOfSlot(entry.network.slot));
        entry.machine = await bootVm(instanceId, entry.network, uidBaseOfSlot(entry.network.slot), false);
        log(`${instanceId}: VM rebooted at ${entry.network.ip} in ${Date.now() - started} ms`);
        if (running.get(instanceId) === entry) watchVm(instanceId, entry, entry.machine);
        return;
      } catch (error) {
        // BootedVm's error carries the console's last lines already.
        reason = `rebooted and did not come back: ${(error as Error).message}`;
      }
    } else if (exit.reason === 'guest-reset') {
      reason = `rebooted more than ${VM_RESTARTS.max} times within ${VM_RESTARTS.windowMs / 60_000} minutes, so bake stopped it: ${await consoleTail(f.console)}`;
    } else if (exit.reason === 'guest-shutdown') {
      reason = `the instance powered itself off: ${await consoleTail(f.console)}`;
    } else {
      reason = `its VM ended (${exit.reason ?? 'qemu gave no reason'}): ${await consoleTail(f.console)}`;
    }
    // A stop asked for meanwhile has taken the instance over.
    if (running.get(instanceId) !== entry) return;
    log(`${instanceId}: ${reason}`);
    await appendFile(f.console, `bake: ${instanceId} stopped: ${reason}\n`).catch(() => undefined);
    // This very promise is what a stop would wait for: let it not wait for itself.
    entry.restarting = undefined;
    await stopInstance(instanceId, true);
    for (const listener of guestStopListeners) listener(instanceId, reason);
  }

  function releaseSshHold(instanceId: string): void {
    clearTimeout(sshHolds.get(instanceId)?.timer);
    sshHolds.delete(instanceId);
  }

  const host: InstanceHost = {
    async launch(request: LaunchRequest): Promise<InstanceEndpoint> {
      await prepare();
      const f = files(request.instanceId);
      if (running.has(request.instanceId) || existsSync(f.dir))
        throw new CloudError(`instance ${request.instanceId} already exists on this host`);
      const architecture = request.architecture ?? baseImageArchitecture(request.imageId) ?? 'x86_64';
      if (request.machine === 'vm' && architecture !== 'x86_64')
        throw new CloudError(`a local VM runs x86_64 only; ${request.imageId} is ${architecture}`);
      // Before a debootstrap of minutes or a boot that would end in "Exec format error".
      await requireEmulator(architecture, binfmtDir);
      // No copy: the instance's writes go to its own upper directory over the image's layers.
      const base = baseImageArchitecture(request.imageId);
      const lowers = base ? [await baseRootfs(base)] : await images.layersOf(request.imageId);
      await mkdir(f.dir, { recursive: true, mode: 0o700 });
      if (request.machine === 'vm') await writeFile(f.machineKind, 'vm\n');
      await recordInstanceType(request.instanceId, request.instanceType);
      if (architecture !== 'x86_64') await writeFile(f.architecture, `${architecture}\n`);
      await writeFile(path.join(f.dir, LAYERS_FILE), `${JSON.stringify(lowers)}\n`);
      try {
        return await boot(request.instanceId, request.authorizedKey, request.userData ?? Buffer.alloc(0));
      } catch (error) {
        // The API records a failed launch as terminated and never asks again: nothing may stay behind.
        await host.terminate(request.instanceId).catch(() => undefined);
        throw error;
      }
    },

    async stop(instanceId: string): Promise<void> {
      await prepare();
      await stopInstance(instanceId, true);
    },

    async start(instanceId: string, authorizedKey: string, instanceType?: string): Promise<InstanceEndpoint> {
      await prepare();
      const entry = running.get(instanceId);
      if (entry) return entry.endpoint;
      if (exists(instanceId)) await recordInstanceType(instanceId, instanceType);
      return boot(instanceId, authorizedKey);
    },

    async capture(instanceId: string, imageId: string): Promise<void> {
      await prepare();
      const f = files(instanceId);
      if (!exists(instanceId)) throw new CloudError(`instance ${instanceId} has no filesystem on this host`);
      // Like CreateImage without NoReboot: the instance is stopped for a consistent copy, then booted again.
      const wasRunning = running.has(instanceId);
      if (wasRunning) await stopInstance(instanceId, true);
      const started = Date.now();
      try {
        // A container's changes are moved, not copied; a VM's disks are made of its layers,
        // which a capture by move would stack one deeper each time (vm-kernel.ts's limit).
        if ((await machineOf(instanceId)) === 'vm') await images.capture(f.upper, await readLayers(f.dir), imageId);
        else await images.captureByMove(f.dir, f.upper, await readLayers(f.dir), imageId);
        log(`${instanceId}: captured as ${imageId} in ${Date.now() - started} ms`);
      } finally {
        if (wasRunning) await boot(instanceId, '');
      }
    },

    async alias(imageId: string, newImageId: string): Promise<void> {
      await prepare();
      if (baseImageArchitecture(imageId))
        throw new CloudError('the base image is shared by every region already; it needs no copy');
      await images.alias(imageId, newImageId);
    },

    async terminate(instanceId: string): Promise<void> {
      await prepare();
      const f = files(instanceId);
      await stopInstance(instanceId);
      if (!existsSync(f.dir)) return;
      // Renamed first so that a crash mid-removal leaves a name the next start finishes removing.
      const doomed = path.join(instancesDir, `.${instanceId}.terminating`);
      await rename(f.dir, doomed);
      await removeRootfs(doomed);
      // An image deregistered while this instance stood on it can go now.
      await images.collect();
    },

    async deleteImage(imageId: string): Promise<void> {
      if (baseImageArchitecture(imageId)) return;
      await prepare();
      await images.delete(imageId);
    },

    async requireArchitecture(architecture: Architecture): Promise<void> {
      await requireEmulator(architecture, binfmtDir);
    },

    async holdSsh(instanceId: string, until: number): Promise<void> {
      const entry = running.get(instanceId);
      if (!entry || until <= Date.now()) return;
      releaseSshHold(instanceId);
      const timer = setTimeout(() => {
        sshHolds.delete(instanceId);
        const network = running.get(instanceId)?.network ?? parked.get(instanceId);
        if (network)
          allowTcpPorts(network).catch((error: Error) => log(`${instanceId}: letting SSH in: ${error.message}`));
      }, until - Date.now());
      // Not what keeps bake running: close() and terminate end the hold with the instance.
      timer.unref();
      sshHolds.set(instanceId, { until, timer });
      await refuseTcpPort(entry.network, entry.endpoint.sshPort);
    },

    onStoppedByGuest(listener: (instanceId: string, reason: string) => void): void {
      guestStopListeners.push(listener);
    },

    async consoleOutput(instanceId: string): Promise<string> {
      const text = await readFile(files(instanceId).console).catch(() => Buffer.alloc(0));
      // EC2 returns the most recent 64 KB.
      return text.subarray(Math.max(0, text.length - 64 * 1024)).toString('utf8');
    },

    async close(): Promise<void> {
      const closing = Date.now();
      for (const id of [...sshHolds.keys()]) releaseSshHold(id);
      const ids = [...new Set([...running.keys(), ...parked.keys()])];
      await Promise.all(ids.map((id) => stopInstance(id)));
      await proxy.close();
      const { hits, misses, hitBytes, missBytes } = proxy.stats;
      if (hits + misses)
        log(
          `apt proxy: ${hits} .deb from the cache (${(hitBytes / 1e6).toFixed(1)} MB), ${misses} downloaded (${(missBytes / 1e6).toFixed(1)} MB)`,
        );
      if (prepared) await unmountUnder(stateDir);
      log(`instance host closed in ${Date.now() - closing} ms`);
    },
  };
  return host;
}
