/**
 * Which bakery this is. Several teams' bakeries share one AWS account: every image, lock and
 * builder instance is tagged `bake:bakery`, and plan, pin and prune see only their own. The name
 * is `bakery:` in bake.config.yaml, or else derived from where the bakery lives: the git remote
 * `origin` (the same on every Jenkins agent, unlike the workspace folder), else the folder name.
 */
import path from 'node:path';
import { execa } from 'execa';

export type BakeryNameSource = 'config' | 'git remote' | 'directory';

/** Letters, digits and . _ - / : a tag value, and nothing Packer's template engine would read. */
export const BAKERY_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

export async function defaultBakeryName(root: string): Promise<{ name: string; source: BakeryNameSource }> {
  const fromGit = await gitRemoteName(root);
  if (fromGit) return { name: fromGit, source: 'git remote' };
  return { name: sanitize(path.basename(root)) || 'bakery', source: 'directory' };
}

/** `git@host:team/images.git` → `images`; a bakery in a sub-folder adds it: `images/team-a`. */
async function gitRemoteName(root: string): Promise<string | undefined> {
  try {
    const git = (args: string[]) => execa('git', args, { cwd: root, stdin: 'ignore' }).then((r) => r.stdout.trim());
    const url = await git(['remote', 'get-url', 'origin']);
    const repo = sanitize(url.replace(/\/+$/, '').replace(/\.git$/, '').split(/[/:]/).pop() ?? '');
    if (!repo) return undefined;
    const prefix = await git(['rev-parse', '--show-prefix']);
    const sub = prefix.replace(/\/+$/, '').split('/').map(sanitize).filter(Boolean).join('/');
    return sub ? `${repo}/${sub}` : repo;
  } catch {
    return undefined; // no git, no repository, or no origin
  }
}

function sanitize(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
}

/** The note printed when the name was not configured, so a team sees what its images are tagged with. */
export function bakeryNameNote(name: string, source: BakeryNameSource): string | undefined {
  if (source === 'config') return undefined;
  return `bakery ${name} (from the ${source === 'git remote' ? 'git remote origin' : 'folder name'}): images, locks and builders are tagged bake:bakery=${name}; set bakery: in bake.config.yaml to fix the name`;
}
