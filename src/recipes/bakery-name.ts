/**
 * Which bakery this is. Several teams' bakeries share one AWS account: every image, lock and
 * builder instance is tagged `bake:bakery`, and plan, pin and prune see only their own. The name
 * is `bakery:` in bake.config.yaml, or else derived from where the bakery lives: the git remote
 * `origin`'s host and path (the same on every Jenkins agent, unlike the workspace folder), else
 * the folder name.
 */
import path from 'node:path';
import { execa } from 'execa';

export type BakeryNameSource = 'config' | 'git remote' | 'directory';

/** Letters, digits and . _ - / : a tag value, and nothing Packer's template engine would read. */
export const BAKERY_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

export interface BakeryIdentity {
  name: string;
  source: BakeryNameSource;
  /**
   * The name bake derived before it took host and owner into account (the remote's last path
   * part, `images`): images tagged with it are read as this bakery's (plan, pin, images) but never
   * pruned, so a bakery that never set `bakery:` keeps reusing its images after the upgrade while
   * another team's `images` bakery cannot have its images deleted by this one.
   */
  legacyName?: string;
}

export async function defaultBakeryName(root: string): Promise<BakeryIdentity> {
  const fromGit = await gitRemoteName(root);
  if (fromGit) return { ...fromGit, source: 'git remote' };
  return { name: sanitize(path.basename(root)) || 'bakery', source: 'directory' };
}

/**
 * `git@github.com:team-a/images.git` → `github.com/team-a/images`; a bakery in a sub-folder adds
 * it: `github.com/team-a/images/bakeries/web`. Two teams' `images` repositories are two bakeries.
 * Credentials in an https remote (`https://user:token@host/…`) never become part of the name.
 */
async function gitRemoteName(root: string): Promise<{ name: string; legacyName?: string } | undefined> {
  try {
    const git = (args: string[]) => execa('git', args, { cwd: root, stdin: 'ignore' }).then((r) => r.stdout.trim());
    const url = await git(['remote', 'get-url', 'origin']);
    const parts = remoteParts(url);
    if (!parts.length) return undefined;
    const prefix = await git(['rev-parse', '--show-prefix']);
    const sub = prefix.replace(/\/+$/, '').split('/').map(sanitize).filter(Boolean);
    const name = [...parts, ...sub].join('/').slice(0, 128).replace(/[/.-]+$/, '');
    const legacyName = [parts[parts.length - 1], ...sub].join('/');
    return legacyName === name ? { name } : { name, legacyName };
  } catch {
    return undefined; // no git, no repository, or no origin
  }
}

/** host, then the path's parts, of any git remote form (scp-like, URL, local path), sanitized. */
export function remoteParts(url: string): string[] {
  const trimmed = url.trim().replace(/\/+$/, '').replace(/\.git$/, '');
  const asUrl = /^[a-z][a-z0-9+.-]*:\/\//i.exec(trimmed)
    ? (() => {
        try {
          const parsed = new URL(trimmed);
          return [parsed.hostname, ...decodeURIComponent(parsed.pathname).split('/')];
        } catch {
          return undefined;
        }
      })()
    : undefined;
  // scp-like `user@host:path`; anything else (a local path) is its path parts.
  const scp = /^(?:[^@/:]+@)?([^/:]+):(.*)$/.exec(trimmed);
  const raw = asUrl ?? (scp ? [scp[1], ...scp[2].split('/')] : trimmed.split('/'));
  return raw.map(sanitize).filter(Boolean);
}

function sanitize(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
}

/** The note printed when the name was not configured, so a team sees what its images are tagged with. */
export function bakeryNameNote(name: string, source: BakeryNameSource, legacyName?: string): string | undefined {
  if (source === 'config') return undefined;
  const legacy = legacyName
    ? `; images tagged bake:bakery=${legacyName} (the name older bake versions derived) are read as this bakery's but never pruned`
    : '';
  return `bakery ${name} (from the ${source === 'git remote' ? 'git remote origin' : 'folder name'}): images, locks and builders are tagged bake:bakery=${name}${legacy}; set bakery: in bake.config.yaml to fix the name`;
}
