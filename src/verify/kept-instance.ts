/**
 * The instance `bake verify` keeps between calls: a booted local-cloud instance (the same
 * debootstrap base as `--local`) whose filesystem stays under DIR/.bake/verify/<recipe>/ and
 * which runs only during a call.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { createBootHost, MACHINE_KIND_FILE } from '../local-cloud/boot-host.js';
import { BASE_IMAGE, type InstanceEndpoint } from '../local-cloud/instance-host.js';
import { LAYERS_FILE } from '../local-cloud/rootfs-images.js';
import { removeRootfs, rootfsCacheDir } from '../local-cloud/rootfs.js';

export interface SshTarget extends InstanceEndpoint {
  /** Who logs in: the local images' `admin` (passwordless sudo), as on Debian's AMIs. */
  user: string;
  /** The private key that logs in as `user`. */
  privateKey: string;
}

/** The login every local image has (cloud-init's default user in the base, docs/local-cloud-host.md). */
export const LOCAL_LOGIN_USER = 'admin';

export interface KeptInstance {
  /**
   * Boots the kept filesystem; makes the filesystem from the base first when there is
   * none yet, or (fresh) after removing the old one. `created` says which happened.
   */
  up(options: { fresh: boolean }): Promise<{ target: SshTarget; created: boolean }>;
  /** Removes the instance and every file of its state. False when there was nothing. */
  destroy(): Promise<boolean>;
  /** Powers the instance off; the filesystem stays. */
  close(): Promise<void>;
}

export interface KeptInstanceOptions {
  /** DIR/.bake/verify/<recipe> */
  stateDir: string;
  /** Instance name inside the state (the recipe's name). */
  name: string;
  /** The bakery root: the base root filesystem is the one `--local` uses (or $BAKE_ROOTFS_CACHE). */
  bakeryRoot: string;
  /** Overrides where the base root filesystem is cached. */
  rootfsCache?: string;
  /** `vm`: the recipe asks for a local VM (`local: {machine: vm}`); a kept instance of the other kind is made anew. */
  machine?: 'vm';
  log?: (line: string) => void;
}

/** Where `--local` keeps its state; its base root filesystem cache is shared. */
export function localCloudStateDir(bakeryRoot: string): string {
  return path.join(bakeryRoot, '.bake', 'local');
}

export function bootedKeptInstance(options: KeptInstanceOptions): KeptInstance {
  const { stateDir, name } = options;
  const privateKey = path.join(stateDir, 'id_ed25519');
  // The boot host's own layout (docs/local-cloud-host.md): `layers` marks a complete instance.
  const instanceDir = path.join(stateDir, 'instances', name);
  let host: ReturnType<typeof createBootHost> | undefined;
  const hostOf = () =>
    (host ??= createBootHost({
      stateDir,
      log: options.log,
      rootfsCache: options.rootfsCache ?? rootfsCacheDir(localCloudStateDir(options.bakeryRoot)),
    }));

  const publicKey = async () => {
    if (!existsSync(privateKey)) {
      await mkdir(stateDir, { recursive: true, mode: 0o755 });
      const temp = `${privateKey}.tmp`;
      await rm(temp, { force: true });
      await rm(`${temp}.pub`, { force: true });
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `bake verify ${name}`, '-f', temp]);
      await rename(`${temp}.pub`, `${privateKey}.pub`);
      await rename(temp, privateKey);
    }
    return readFile(`${privateKey}.pub`, 'utf8');
  };

  return {
    async up({ fresh }) {
      const key = await publicKey();
      // The boot host records a VM's kind beside its layers (boot-host.ts): a kept instance of the other kind is not kept.
      const sameKind = existsSync(path.join(instanceDir, MACHINE_KIND_FILE)) === (options.machine === 'vm');
      const kept = existsSync(path.join(instanceDir, LAYERS_FILE)) && sameKind;
      // Anything else there is half made or an older bake's chroot copy: it goes too.
      if ((kept && fresh) || (!kept && existsSync(instanceDir))) await hostOf().terminate(name);
      const created = !kept || fresh;
      const endpoint = created
        ? await hostOf().launch({ instanceId: name, imageId: BASE_IMAGE, authorizedKey: key, machine: options.machine })
        : await hostOf().start(name, key);
      return { target: { ...endpoint, user: LOCAL_LOGIN_USER, privateKey }, created };
    },

    async destroy() {
      if (!existsSync(stateDir)) return false;
      if (existsSync(path.join(stateDir, 'instances', name))) await hostOf().terminate(name);
      await host?.close();
      // Whatever else is there (keys, rendered playbooks, logs); nothing runs inside any more.
      await removeRootfs(stateDir);
      return true;
    },

    async close() {
      await host?.close();
    },
  };
}
