/**
 * bake's private folder for short-lived files no other local user may read or shape: the
 * secrets' extra-vars file, Packer's temp folder (where its Ansible provisioner writes the build's
 * SSH private key). bake runs as root, so a folder in a world-writable place (/dev/shm, /tmp)
 * that bake walked or removed by path would let any local user steer a root delete with links
 * (issue 29). So:
 *
 * - one parent per user, `bake-<uid>` in a memory filesystem where there is one, created 0700
 *   and checked on every use, opened without following links: a directory, owned by bake's uid,
 *   mode 0700. Anything else (a link, another user's folder, a looser mode) is refused, never
 *   repaired or removed. In a world-writable place the sticky bit keeps other users from
 *   renaming or replacing it once it is ours.
 * - each run makes its own folder inside it (`<purpose>.<pid>.<start time>.<random>`), removed
 *   when the run ends; a folder whose process is gone (a `kill -9`) is removed by the next run.
 *   Nothing outside the checked parent is ever listed or removed.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BakeError } from '../errors/index.js';
import { isRunning, processStartTime } from './process-identity.js';

export class PrivateDirError extends BakeError {}

export interface PrivateDirOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Where the parent may be made, first existing one wins. Default: $XDG_RUNTIME_DIR (the
   * user's own), /dev/shm (memory: a secret never reaches a disk), the temp folder.
   */
  places?: readonly string[];
}

const RUN_DIR = /^([a-z][a-z-]*)\.(\d+)\.(\d+)\.[A-Za-z0-9]+$/;

function uid(): number {
  return process.geteuid?.() ?? 0;
}

function placesOf(options: PrivateDirOptions): string[] {
  if (options.places) return [...options.places];
  const env = options.env ?? process.env;
  const runtime = env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR) ? [env.XDG_RUNTIME_DIR] : [];
  return [...runtime, '/dev/shm', tmpdir()];
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/** The place may be shared, but then only with the sticky bit (nobody renames another's entry). */
async function checkPlace(place: string): Promise<void> {
  const info = await lstat(place);
  if (!info.isDirectory()) throw new PrivateDirError(`${place}: not a directory; bake cannot keep private files there`);
  const othersMayWrite = (info.mode & 0o022) !== 0;
  if (othersMayWrite && (info.mode & 0o1000) === 0)
    throw new PrivateDirError(
      `${place}: writable by other users without the sticky bit (mode ${octal(info.mode)}); bake cannot keep private files there`,
    );
  if (info.uid !== 0 && info.uid !== uid())
    throw new PrivateDirError(`${place}: owned by uid ${info.uid}; bake cannot keep private files there`);
}

/**
 * The checked parent: `<place>/bake-<uid>` (or `$XDG_RUNTIME_DIR/bake`, already the user's own),
 * made if missing, refused unless it is a real directory of bake's uid with mode 0700.
 */
export async function privateParent(options: PrivateDirOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const places = placesOf(options);
  let place: string | undefined;
  for (const candidate of places) {
    if (
      await lstat(candidate).then(
        (info) => info.isDirectory(),
        () => false,
      )
    ) {
      place = candidate;
      break;
    }
  }
  if (!place) throw new PrivateDirError(`none of ${places.join(', ')} exists: bake has nowhere to keep private files`);
  await checkPlace(place);
  const name = !options.places && place === env.XDG_RUNTIME_DIR ? 'bake' : `bake-${uid()}`;
  const parent = path.join(place, name);
  await mkdir(parent, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  await checkOwnPrivateDir(parent);
  return parent;
}

/** The folder itself, never what a link there points to; `refusal` says what bake wants instead. */
async function openWithoutFollowing(dir: string, refusal: string): Promise<FileHandle> {
  try {
    return await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A link fails either way (O_DIRECTORY is checked before O_NOFOLLOW): say which it is.
    const isLink = await lstat(dir).then(
      (info) => info.isSymbolicLink(),
      () => false,
    );
    if (code === 'ELOOP' || isLink) throw new PrivateDirError(`${dir}: is a symbolic link; ${refusal}`);
    if (code === 'ENOTDIR') throw new PrivateDirError(`${dir}: is not a directory; ${refusal}`);
    throw new PrivateDirError(`${dir}: cannot open: ${code ?? (error as Error).message}`);
  }
}

/** Opened without following a link, then checked on the open descriptor (no swap between check and use). */
export async function checkOwnPrivateDir(dir: string): Promise<void> {
  const handle = await openWithoutFollowing(dir, 'bake keeps private files only in a folder it owns (remove it)');
  try {
    const info = await handle.stat();
    if (info.uid !== uid())
      throw new PrivateDirError(
        `${dir}: owned by uid ${info.uid}, not bake's uid ${uid()}; bake keeps private files only in a folder it owns (remove it)`,
      );
    if ((info.mode & 0o077) !== 0)
      throw new PrivateDirError(
        `${dir}: mode ${octal(info.mode)} lets other users in; bake keeps private files only in a 0700 folder (remove it)`,
      );
  } finally {
    await handle.close();
  }
}

/**
 * Runs `action` with a fresh 0700 folder of this run inside the private parent; the folder and
 * everything in it are gone when it returns (or throws).
 */
export async function withPrivateRunDir<T>(
  purpose: string,
  action: (dir: string) => Promise<T>,
  options: PrivateDirOptions = {},
): Promise<T> {
  if (!/^[a-z][a-z-]*$/.test(purpose)) throw new Error(`not a run folder purpose: ${purpose}`);
  const parent = await privateParent(options);
  await sweepAbandonedRunDirs(parent);
  // mkdtemp makes the folder 0700 under a name nobody could have taken before.
  const dir = await mkdtemp(path.join(parent, `${purpose}.${process.pid}.${processStartTime(process.pid) ?? 0}.`));
  try {
    return await action(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Run folders of processes that are gone (killed before they could remove their own), in the checked parent only. */
async function sweepAbandonedRunDirs(parent: string): Promise<void> {
  for (const entry of await readdir(parent)) {
    const match = RUN_DIR.exec(entry);
    if (!match || isRunning(`${match[2]}:${match[3]}`)) continue;
    await rm(path.join(parent, entry), { recursive: true, force: true });
  }
}

/**
 * A long-lived folder of bake's own (the Galaxy cache: what is in it runs as root): made 0700 if
 * missing; one bake made earlier with a looser mode is tightened; a link or another user's
 * folder is refused, since whoever owns it decides which roles run.
 */
export async function ensureOwnPrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const handle = await openWithoutFollowing(dir, 'bake keeps its cache only in a folder it owns (use the real path)');
  try {
    const info = await handle.stat();
    if (info.uid !== uid())
      throw new PrivateDirError(
        `${dir}: owned by uid ${info.uid}, not bake's uid ${uid()}; bake keeps its cache only in a folder it owns (remove it or choose another)`,
      );
    if ((info.mode & 0o077) !== 0) await handle.chmod(0o700);
  } finally {
    await handle.close();
  }
}
