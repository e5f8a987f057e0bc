/**
 * A cgroup of its own for each instance, below bake's own, in every hierarchy systemd uses
 * (cgroup2, and the named `systemd` v1 hierarchy of a hybrid host). systemd-nspawn hands it to
 * the instance's user namespace, where the instance's systemd makes its own tree: an instance
 * runs no process in bake's cgroup, and its root writes nowhere in the host's tree.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { CloudError } from '../errors/index.js';
import { signal, sleep } from './processes.js';

interface Hierarchy {
  /** Where the hierarchy is mounted, and bake's own cgroup in it. */
  mountPoint: string;
  ownPath: string;
}

/** Parses /proc/self/cgroup and /proc/self/mountinfo (pure). */
export function systemdHierarchies(procCgroup: string, mountinfo: string): Hierarchy[] {
  const mounts = mountinfo
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [before, after = ''] = line.split(' - ');
      const [type, , superOptions = ''] = after.split(' ');
      return { point: before.split(' ')[4], type, superOptions };
    });
  const found: Hierarchy[] = [];
  for (const line of procCgroup.split('\n').filter(Boolean)) {
    const [id, controllers, ...rest] = line.split(':');
    const ownPath = rest.join(':');
    const mount =
      id === '0' && controllers === ''
        ? mounts.find((m) => m.type === 'cgroup2')
        : controllers === 'name=systemd'
          ? mounts.find((m) => m.type === 'cgroup' && m.superOptions.split(',').includes('name=systemd'))
          : undefined;
    if (mount) found.push({ mountPoint: mount.point, ownPath });
  }
  return found;
}

/** The directories of the instance's cgroup, one per hierarchy (not yet made). */
export async function instanceCgroups(machine: string): Promise<string[]> {
  if (!/^bake-\d+$/.test(machine)) throw new CloudError(`not an instance machine name: ${machine}`);
  const hierarchies = systemdHierarchies(
    await readFile('/proc/self/cgroup', 'utf8'),
    await readFile('/proc/self/mountinfo', 'utf8'),
  );
  if (!hierarchies.length) throw new CloudError('the local cloud found no cgroup hierarchy of systemd on this host');
  return hierarchies.map((h) => path.join(h.mountPoint, h.ownPath, machine));
}

/** Kills what is left in the cgroups (a crash, a stuck shutdown) and removes them, deepest first. */
export async function removeInstanceCgroups(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (let round = 0; round < 40 && existsSync(dir); round++) {
      const tree = subtree(dir);
      const pids: number[] = [];
      for (const cgroup of tree) {
        const text = await readFile(path.join(cgroup, 'cgroup.procs'), 'utf8').catch(() => '');
        pids.push(...text.split('\n').filter(Boolean).map(Number));
      }
      signal(pids, 'SIGKILL');
      for (const cgroup of tree) await rmdir(cgroup).catch(() => undefined);
      if (existsSync(dir)) await sleep(50);
    }
  }
}

/** The cgroup and every cgroup below it, deepest first. */
function subtree(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(at, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const entry of entries) walk(path.join(at, entry));
    found.push(at);
  };
  walk(dir);
  return found;
}
