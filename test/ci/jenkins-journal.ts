/**
 * What test/ci/run-jenkinsfile.groovy leaves behind for a test: the journal of one Jenkins build,
 * one step per line, in the order the steps ran.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

export const RUNNER = path.resolve(import.meta.dirname, 'run-jenkinsfile.groovy');

export interface JenkinsStep {
  event: string;
  name?: string;
  skipped?: boolean;
  script?: string;
  workspace?: string;
  label?: string;
  files?: string[];
  cases?: Array<{ name: string; failed: boolean }>;
  branches?: string[];
  text?: string;
  status?: string;
  error?: string;
  file?: string;
  size?: number;
  /** `sh`: its exit status and wall time. */
  exit?: number;
  ms?: number;
}

export async function readJournal(file: string): Promise<JenkinsStep[]> {
  return (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as JenkinsStep);
}

/** The stages as Jenkins' stage view shows them: `Build (skipped)` for one whose `when` was false. */
export function stages(steps: JenkinsStep[]): string[] {
  return steps.filter((s) => s.event === 'stage').map((s) => (s.skipped ? `${s.name} (skipped)` : (s.name ?? '')));
}

/**
 * One Jenkins build, number `number`, of `jenkinsfile` from `origin`'s main, run by the Groovy
 * runner in `work/build-<number>` with `params`: the run, its steps in order, and its workspace.
 */
export async function runJenkinsfile(build: {
  jenkinsfile: string;
  origin: string;
  work: string;
  number: number;
  params?: Record<string, string | boolean>;
  env: NodeJS.ProcessEnv;
}) {
  const dir = path.join(build.work, `build-${build.number}`);
  const journal = path.join(build.work, `build-${build.number}.ndjson`);
  const params = Object.entries(build.params ?? {}).map(([k, v]) => `${k}=${v}`);
  const run = await execa('groovy', [RUNNER, build.jenkinsfile, build.origin, dir, journal, ...params], {
    env: build.env,
    reject: false,
  });
  return { run, steps: await readJournal(journal), dir };
}
