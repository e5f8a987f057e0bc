/**
 * bake installs the bakery's Galaxy requirements itself (roles/requirements.yml and
 * collections/requirements.yml) into a cache keyed by source and version, before anything runs
 * roles. A git source is mirrored once (`git clone --mirror`), its version resolved to a commit
 * there, and `ansible-galaxy` installs that commit from the mirror; the commit is recorded beside
 * the install and is what the fingerprint uses. A second run with the same versions reads the
 * cache only, so it works offline; a changed version is a new cache entry, fetched once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { BakeError, RecipeError, RecipeErrors, type SourceLocation } from '../errors/index.js';
import type { Bakery, Collection, Role } from '../recipes/model.js';
import { ensureOwnPrivateDir } from '../files/private-run-dir.js';

export const ANSIBLE_GALAXY = 'ansible-galaxy';
const RESOLVED = '.bake-resolved.json';

/** $BAKE_GALAXY_CACHE, else $XDG_CACHE_HOME/bake/galaxy, else ~/.cache/bake/galaxy: one per agent, shared by its bakeries. */
export function galaxyCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BAKE_GALAXY_CACHE) return path.resolve(env.BAKE_GALAXY_CACHE);
  return path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'bake', 'galaxy');
}

/**
 * What ansible-galaxy and git may see of bake's environment. They fetch code named by a
 * requirements file, which a pull request can change, and run during `bake validate`: the job's
 * AWS keys, tokens and secrets stay out of their reach. Kept: what finding programs, a home, a
 * temp dir, the locale, a proxy, and git over ssh (the agent socket, the operator's ssh command)
 * need, plus ansible-galaxy's own server settings (a private Galaxy's URL and token are meant for
 * it).
 */
export function toolEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const kept = /^(PATH|HOME|USER|LOGNAME|TMPDIR|LANG|LANGUAGE|LC_[A-Z]+|TZ|SSH_AUTH_SOCK|GIT_SSH|GIT_SSH_COMMAND|(http|https|no|all)_proxy|(HTTP|HTTPS|NO|ALL)_PROXY|ANSIBLE_GALAXY_[A-Z0-9_]+)$/;
  const out: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  for (const [key, value] of Object.entries(env)) if (value !== undefined && kept.test(key)) out[key] = value;
  return out;
}

/** git never runs a transport that is a command (`ext::`), whatever a URL says. */
const GIT_SAFETY = ['-c', 'protocol.ext.allow=never'];

interface Resolved {
  src: string;
  version: string;
  /** Git sources only. */
  commit?: string;
}

export interface GalaxyInstallOptions {
  cacheDir?: string;
  /** One line per fetch, for people (cache hits say nothing). */
  log?: (line: string) => void;
}

/**
 * Installs every galaxy role and collection the bakery declares (or finds it in the cache) and
 * points the bakery at the installed copies: each galaxy role's `dir` and `commit`, each
 * collection's `dir` and `commit`. Every failure is one line at its requirements.yml entry.
 */
export async function installGalaxyRequirements(bakery: Bakery, options: GalaxyInstallOptions = {}): Promise<void> {
  const cacheDir = options.cacheDir ?? galaxyCacheDir();
  // What the cache holds runs as root (roles, delegated tasks): only bake may write there.
  if ([...bakery.roles.values()].some((role) => role.source === 'galaxy') || bakery.collections?.length)
    await ensureOwnPrivateDir(cacheDir);
  const errors: RecipeError[] = [];
  const attempt = async (action: () => Promise<void>) => {
    try {
      await action();
    } catch (error) {
      if (error instanceof RecipeError) errors.push(error);
      else throw error;
    }
  };
  for (const role of bakery.roles.values()) {
    if (role.source !== 'galaxy') continue;
    await attempt(async () => {
      const { dir, resolved } = await installOne(cacheDir, 'role', { src: role.src ?? role.name, version: role.version ?? '', git: isGitRole(role), name: role.name, location: role.location!, versionLocation: role.versionLocation }, options);
      role.dir = path.join(dir, role.name);
      role.commit = resolved.commit;
    });
  }
  for (const collection of bakery.collections ?? []) {
    await attempt(async () => {
      const { dir, resolved } = await installOne(cacheDir, 'collection', { src: collection.name, version: collection.version, git: isGitCollection(collection), name: collection.name, location: collection.location, versionLocation: collection.versionLocation, server: collection.source }, options);
      collection.dir = dir;
      collection.commit = resolved.commit;
    });
  }
  if (errors.length) throw new RecipeErrors(errors);
}

function isGitRole(role: Role): boolean {
  return role.scm === 'git' || (role.src ?? '').startsWith('git+');
}

function isGitCollection(collection: Collection): boolean {
  return collection.type === 'git' || collection.name.startsWith('git+');
}

interface Requirement {
  src: string;
  version: string;
  git: boolean;
  name: string;
  location: SourceLocation;
  versionLocation?: SourceLocation;
  /** A Galaxy server for collections (`source:`). */
  server?: string;
}

const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 20);

async function installOne(cacheDir: string, kind: 'role' | 'collection', req: Requirement, options: GalaxyInstallOptions): Promise<{ dir: string; resolved: Resolved }> {
  const dir = path.join(cacheDir, `${kind}s`, digest(kind, req.src, req.version, req.name));
  const cached = await readResolved(dir);
  if (cached) return { dir, resolved: cached };

  options.log?.(`installing galaxy ${kind} ${req.name} ${req.version}`);
  let resolved: Resolved = { src: req.src, version: req.version };
  let spec: string;
  if (req.git) {
    const url = req.src.replace(/^git\+/, '');
    const mirror = await mirrorOf(cacheDir, url, req);
    const commit = await resolveVersion(mirror, req);
    resolved = { ...resolved, commit };
    spec = kind === 'role' ? `git+file://${mirror},${commit},${req.name}` : `git+file://${mirror},${commit}`;
  } else {
    spec = kind === 'role' ? `${req.src},${req.version},${req.name}` : `${req.src}:${req.version}`;
  }
  // Installed beside the final folder and renamed into place: a cache entry is whole or absent.
  const temp = `${dir}.${process.pid}-${randomBytes(3).toString('hex')}.tmp`;
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { recursive: true });
  try {
    const args =
      kind === 'role'
        ? ['role', 'install', '--no-deps', '--force', '-p', temp, '--', spec]
        : ['collection', 'install', '--no-deps', '--force', '-p', temp, ...(req.server ? [`--server=${req.server}`] : []), '--', spec];
    const run = await execa(ANSIBLE_GALAXY, args, { reject: false, all: true, stdin: 'ignore', extendEnv: false, env: { ...toolEnvironment(), ANSIBLE_NOCOLOR: '1' } });
    if (run.code === 'ENOENT') throw new BakeError(`${ANSIBLE_GALAXY} not found on PATH: install ansible-core (scripts/setup.sh does)`);
    if (run.exitCode !== 0) throw new RecipeError(`galaxy ${kind} ${req.name}: ansible-galaxy could not install ${req.src} ${req.version}: ${lastLine(run.all)}`, req.location);
    await writeFile(path.join(temp, RESOLVED), `${JSON.stringify(resolved, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(temp, dir);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return { dir, resolved };
}

async function readResolved(dir: string): Promise<Resolved | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, RESOLVED), 'utf8')) as Resolved;
  } catch {
    return undefined;
  }
}

/** A bare mirror of the repository, one per URL: fetched when a version is not in the cache yet. */
async function mirrorOf(cacheDir: string, url: string, req: Requirement): Promise<string> {
  const mirror = path.join(cacheDir, 'git', `${digest(url)}.git`);
  const git = (args: string[]) => execa('git', [...GIT_SAFETY, ...args], { reject: false, all: true, stdin: 'ignore', extendEnv: false, env: toolEnvironment() });
  const run = existsSync(mirror)
    ? await git(['-C', mirror, 'fetch', '--quiet', '--prune', '--tags', 'origin'])
    : await (async () => {
        await mkdir(path.dirname(mirror), { recursive: true });
        const temp = `${mirror}.${process.pid}.tmp`;
        await rm(temp, { recursive: true, force: true });
        const cloned = await git(['clone', '--quiet', '--mirror', '--', url, temp]);
        if (cloned.exitCode === 0) await rename(temp, mirror);
        else await rm(temp, { recursive: true, force: true });
        return cloned;
      })();
  if (run.exitCode !== 0) throw new RecipeError(`galaxy ${req.name}: cannot fetch ${req.src}: ${lastLine(run.all)}`, req.location);
  return mirror;
}

async function resolveVersion(mirror: string, req: Requirement): Promise<string> {
  // `--end-of-options` keeps a version such as `--upload-pack=…` from being read as an option.
  const run = await execa('git', [...GIT_SAFETY, '-C', mirror, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${req.version}^{commit}`], {
    reject: false,
    stdin: 'ignore',
    extendEnv: false,
    env: toolEnvironment(),
  });
  if (run.exitCode !== 0 || !/^[0-9a-f]{40}$/.test(run.stdout.trim()))
    throw new RecipeError(`galaxy ${req.name}: version ${req.version} not found in ${req.src}`, req.versionLocation ?? req.location);
  return run.stdout.trim();
}

/** The line that says what went wrong: git's `fatal:` or ansible-galaxy's `ERROR!`, else the last one. */
function lastLine(text: string | undefined): string {
  const lines = (text ?? '').split('\n').map((line) => line.trim()).filter(Boolean);
  const said = lines.find((line) => /^(fatal:|error:|ERROR!)/.test(line)) ?? lines[lines.length - 1] ?? 'no output';
  return said.replace(/^(fatal:|error:|ERROR!)\s*/, '');
}
