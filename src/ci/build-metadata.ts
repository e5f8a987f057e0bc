/**
 * What a CI run tells about itself, read once from the environment: Jenkins sets BUILD_URL,
 * JOB_NAME and BUILD_NUMBER on every build (GIT_COMMIT is read by src/git/commit.ts). Outside
 * Jenkins the lock still needs a holder people can find: user@host and pid.
 */
import { hostname, userInfo } from 'node:os';

export interface BuildMetadata {
  /** For the bake:build-url tag. */
  buildUrl?: string;
  /** For the bake:job tag. */
  jobName?: string;
  /** Written on a recipe's build lock, and quoted to whoever finds it taken. */
  lockHolder: string;
}

export function buildMetadata(
  env: NodeJS.ProcessEnv = process.env,
  machine = { host: safeHost(), user: safeUser(), pid: process.pid },
): BuildMetadata {
  const buildUrl = env.BUILD_URL?.trim() || undefined;
  const jobName = env.JOB_NAME?.trim() || undefined;
  const buildNumber = env.BUILD_NUMBER?.trim();
  const lockHolder =
    buildUrl ??
    (jobName && buildNumber ? `${jobName} #${buildNumber}` : `${machine.user}@${machine.host} (pid ${machine.pid})`);
  return { buildUrl, jobName, lockHolder };
}

function safeHost(): string {
  try {
    return hostname();
  } catch {
    return 'unknown-host';
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry for the uid (common in containers).
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}
