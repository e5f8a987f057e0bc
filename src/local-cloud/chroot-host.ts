/**
 * The local cloud's machines: an instance is a copy of a Debian root filesystem under
 * `<stateDir>/instances/<id>/rootfs` and an sshd of its own, listening on a loopback address
 * and chrooting every login into that filesystem. Packer and Ansible reach it over SSH exactly
 * as they would reach an EC2 instance; nothing boots, so services are installed and enabled but
 * never started.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { CloudError } from '../errors/index.js';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { BASE_IMAGE, type InstanceEndpoint, type InstanceHost, type LaunchRequest } from './instance-host.js';
import { ImageStore } from './rootfs-images.js';
import { copyRootfs, ensureBaseRootfs, isDirectory, killProcessesInside, removeRootfs, requireRoot, rootfsCacheDir, unmountUnder } from './rootfs.js';
import { allocateAddress } from './sshd-addresses.js';
import { renderSshdConfig } from './sshd-config.js';
import { SshdProcess, SshdStartError, stopOrphan } from './sshd-process.js';

export interface ChrootHostOptions {
  stateDir: string;
  /** Port every instance's sshd listens on, each on its own 127.0.0.N (default 2222). */
  sshPort?: number;
  log?: (line: string) => void;
  /** Where the debootstrap base is cached (default $BAKE_ROOTFS_CACHE, else <stateDir>/rootfs). */
  rootfsCache?: string;
}

/** Root-owned directory for chroot paths when the state dir sits below a writable one (/tmp). */
const CHROOT_LINKS = '/run/bake-chroot';

export function createChrootHost(options: ChrootHostOptions): InstanceHost {
  const stateDir = path.resolve(options.stateDir);
  const port = options.sshPort ?? 2222;
  const log = options.log ?? (() => undefined);
  const instancesDir = path.join(stateDir, 'instances');
  const hostKey = path.join(stateDir, 'host', 'ssh_host_ed25519_key');
  const images = new ImageStore(path.join(stateDir, 'images'));
  const cacheDir = options.rootfsCache ? path.resolve(options.rootfsCache) : rootfsCacheDir(stateDir);
  const running = new Map<string, { sshd: SshdProcess; endpoint: InstanceEndpoint }>();
  let addressTurn: Promise<unknown> = Promise.resolve();
  let base: Promise<string> | undefined;
  let prepared: Promise<void> | undefined;
  let hostKeyMade: Promise<void> | undefined;

  const files = (instanceId: string) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(instanceId)) throw new CloudError(`not an instance id: ${JSON.stringify(instanceId)}`);
    const dir = path.join(instancesDir, instanceId);
    return {
      dir,
      rootfs: path.join(dir, 'rootfs'),
      authorizedKeys: path.join(dir, 'authorized_keys'),
      config: path.join(dir, 'sshd_config'),
      pid: path.join(dir, 'sshd.pid'),
      log: path.join(dir, 'sshd.log'),
      chrootLink: path.join(CHROOT_LINKS, `${instanceId}-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}`),
    };
  };

  /** Once per process: clean up after a bake that died (orphan sshds, half copies, mounts). */
  const prepare = () =>
    (prepared ??= (async () => {
      await requireRoot('instance host');
      await mkdir(instancesDir, { recursive: true });
      await images.sweep();
      for (const name of await readdir(instancesDir)) {
        const dir = path.join(instancesDir, name);
        if (name.startsWith('.')) {
          if (name.endsWith('.terminating')) await removeRootfs(dir);
          continue;
        }
        const f = files(name);
        await stopOrphan(f.pid, f.config);
        await removeRootfs(`${f.rootfs}.tmp`);
      }
      await unmountUnder(stateDir);
      await removeDanglingChrootLinks();
    })());

  const baseRootfs = () => {
    base ??= ensureBaseRootfs({ cacheDir, log });
    // A failed debootstrap (mirror down) is retried by the next launch, not remembered.
    base.catch(() => (base = undefined));
    return base;
  };

  const ensureHostKey = () =>
    (hostKeyMade ??= (async () => {
      if (existsSync(hostKey)) return;
      await mkdir(path.dirname(hostKey), { recursive: true, mode: 0o700 });
      const temp = `${hostKey}.tmp`;
      await rm(temp, { force: true });
      await rm(`${temp}.pub`, { force: true });
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bake local cloud', '-f', temp]);
      await rename(`${temp}.pub`, `${hostKey}.pub`);
      await rename(temp, hostKey);
    })());

  async function startSshd(instanceId: string, authorizedKey: string): Promise<InstanceEndpoint> {
    const f = files(instanceId);
    if (!(await isDirectory(f.rootfs))) throw new CloudError(`instance ${instanceId} has no filesystem on this host`);
    await stopOrphan(f.pid, f.config);
    await ensureHostKey();
    // sshd's privilege-separation directory on the host.
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    await writeFileAtomic(f.authorizedKeys, `${authorizedKey.trim()}\n`);
    const chrootDirectory = await chrootPath(f.rootfs, f.chrootLink, stateDir);
    const avoid = new Set<string>();
    for (;;) {
      const ip = await inTurn(() => allocateAddress(instancesDir, instanceId, port, avoid));
      await writeFileAtomic(f.config, renderSshdConfig({ ip, port, hostKey, chrootDirectory, authorizedKeysFile: f.authorizedKeys }));
      try {
        const sshd = await SshdProcess.start({ configFile: f.config, pidFile: f.pid, logFile: f.log, ip, port });
        const endpoint = { ip, sshPort: port };
        running.set(instanceId, { sshd, endpoint });
        return endpoint;
      } catch (error) {
        // Another process took the address between the probe and sshd's bind: try the next one.
        if (!(error instanceof SshdStartError && error.addressInUse) || avoid.size >= 5) throw error;
        avoid.add(ip);
      }
    }
  }

  function inTurn<T>(work: () => Promise<T>): Promise<T> {
    const next = addressTurn.then(work, work);
    addressTurn = next.catch(() => undefined);
    return next;
  }

  async function stopInstance(instanceId: string): Promise<void> {
    const f = files(instanceId);
    const entry = running.get(instanceId);
    running.delete(instanceId);
    if (entry) await entry.sshd.stop();
    else await stopOrphan(f.pid, f.config);
    // What the sessions left behind (a daemon a role started despite policy-rc.d, a mount).
    await killProcessesInside(f.rootfs);
    await unmountUnder(f.rootfs);
    // The chroot link exists only while sshd runs; start makes it again.
    await unlink(f.chrootLink).catch(() => undefined);
  }

  const host: InstanceHost = {
    async launch(request: LaunchRequest): Promise<InstanceEndpoint> {
      await prepare();
      const f = files(request.instanceId);
      if (running.has(request.instanceId) || existsSync(f.rootfs)) throw new CloudError(`instance ${request.instanceId} already exists on this host`);
      const source = request.imageId === BASE_IMAGE ? await baseRootfs() : await images.rootfsOf(request.imageId);
      await mkdir(f.dir, { recursive: true, mode: 0o755 });
      const started = Date.now();
      await copyRootfs(source, f.rootfs);
      log(`${request.instanceId}: root filesystem copied from ${request.imageId} in ${Date.now() - started} ms`);
      try {
        return await startSshd(request.instanceId, request.authorizedKey);
      } catch (error) {
        // The API records a failed launch as terminated and never asks again: nothing may stay behind.
        await host.terminate(request.instanceId).catch(() => undefined);
        throw error;
      }
    },

    async stop(instanceId: string): Promise<void> {
      await prepare();
      await stopInstance(instanceId);
    },

    async start(instanceId: string, authorizedKey: string): Promise<InstanceEndpoint> {
      await prepare();
      const entry = running.get(instanceId);
      if (entry) {
        await writeFileAtomic(files(instanceId).authorizedKeys, `${authorizedKey.trim()}\n`);
        return entry.endpoint;
      }
      return startSshd(instanceId, authorizedKey);
    },

    async capture(instanceId: string, imageId: string): Promise<void> {
      await prepare();
      const f = files(instanceId);
      if (!(await isDirectory(f.rootfs))) throw new CloudError(`instance ${instanceId} has no filesystem on this host`);
      // Like CreateImage without NoReboot: the instance is stopped for a consistent copy, then started again.
      const wasRunning = running.get(instanceId);
      if (wasRunning) await stopInstance(instanceId);
      const started = Date.now();
      try {
        await images.capture(f.rootfs, imageId);
        log(`${instanceId}: captured as ${imageId} in ${Date.now() - started} ms`);
      } finally {
        if (wasRunning) await startSshd(instanceId, await readFile(f.authorizedKeys, 'utf8'));
      }
    },

    async alias(imageId: string, newImageId: string): Promise<void> {
      await prepare();
      if (imageId === BASE_IMAGE) throw new CloudError('the base image is shared by every region already; it needs no copy');
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
    },

    async deleteImage(imageId: string): Promise<void> {
      if (imageId === BASE_IMAGE) return;
      await prepare();
      await images.delete(imageId);
    },

    async close(): Promise<void> {
      const ids = [...running.keys()];
      await Promise.all(ids.map((id) => stopInstance(id)));
      if (prepared) await unmountUnder(stateDir);
    },
  };
  return host;
}

/**
 * The path sshd's ChrootDirectory gets. sshd refuses a chroot unless every component of the
 * path is root-owned and writable by nobody else. bake fixes the directories it made; if a
 * parent it does not own is writable (a state dir under /tmp), the path goes through a symlink
 * in a root-owned directory instead — sshd checks the path it is given, and /tmp's sticky bit
 * already stops other users from swapping our directories.
 */
async function chrootPath(rootfs: string, link: string, stateDir: string): Promise<string> {
  for (let dir = rootfs; dir.startsWith(stateDir); dir = path.dirname(dir)) {
    const info = await stat(dir);
    if (info.uid !== 0) await chown(dir, 0, 0);
    if (info.mode & 0o022) await chmod(dir, info.mode & 0o7755);
    if (dir === stateDir) break;
  }
  if (await everyComponentSafe(rootfs)) return rootfs;
  await mkdir(CHROOT_LINKS, { recursive: true, mode: 0o755 });
  await chmod(CHROOT_LINKS, 0o755);
  const current = await lstat(link).catch(() => undefined);
  if (current) await unlink(link);
  await symlink(rootfs, link);
  return link;
}

/** Links of instances whose state directory was deleted while their bake was not running. */
async function removeDanglingChrootLinks(): Promise<void> {
  for (const name of await readdir(CHROOT_LINKS).catch(() => [] as string[])) {
    const link = path.join(CHROOT_LINKS, name);
    if (!existsSync(link)) await unlink(link).catch(() => undefined);
  }
}

async function everyComponentSafe(dir: string): Promise<boolean> {
  for (let current = dir; ; current = path.dirname(current)) {
    const info = await stat(current);
    if (info.uid !== 0 || info.mode & 0o022) return false;
    if (current === path.dirname(current)) return true;
  }
}
