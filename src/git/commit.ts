/**
 * Which commit a bake comes from, for the `bake:git-commit` tag. Jenkins' git plugin sets
 * GIT_COMMIT (and may check out a detached or shallow tree), so it wins over asking git.
 */
import { execa } from 'execa';

export const UNKNOWN_COMMIT = 'unknown';

export async function lookupGitCommit(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.GIT_COMMIT?.trim();
  if (fromEnv) return fromEnv;
  try {
    const { stdout } = await execa('git', ['rev-parse', 'HEAD'], { cwd: dir, timeout: 30_000, stdin: 'ignore' });
    const commit = stdout.trim();
    return /^[0-9a-f]{7,64}$/.test(commit) ? commit : UNKNOWN_COMMIT;
  } catch {
    // Not a git checkout, or git is not installed: the image is still traceable by its fingerprint.
    return UNKNOWN_COMMIT;
  }
}
