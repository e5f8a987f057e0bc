/**
 * What a Groovy-run Jenkinsfile test checks out: a bakery repository (a copy of a fixture, with
 * bin/bake.js running this bake) committed and cloned bare as `origin`, and a bin folder with the
 * stand-ins agents find on PATH (`npm` answers, `packer`/`ssh` are the given scripts).
 */
import { chmod, cp, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';

export const git = (cwd: string, ...args: string[]) =>
  execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@e', ...args], { cwd });

export async function groovyRuns(): Promise<void> {
  const groovy = await execa('groovy', ['--version'], { reject: false });
  if (groovy.exitCode !== 0)
    throw new Error(`groovy does not run (${groovy.stderr || groovy.message}): run scripts/setup.sh --tests`);
}

/** `edit` changes the copy before its first commit; `standIns` maps a command name to the script it runs. */
export async function jenkinsBakery(
  work: string,
  fixture: string,
  standIns: Record<string, string>,
  edit: (dir: string) => Promise<void>,
): Promise<{ editing: string; origin: string; bin: string }> {
  const bin = path.join(work, 'bin');
  await mkdir(bin);
  for (const [name, script] of Object.entries(standIns)) await symlink(path.resolve(script), path.join(bin, name));
  // The agents run `npm ci`: bake is already built here, so that step only has to succeed.
  await writeFile(path.join(bin, 'npm'), '#!/bin/sh\necho "npm $*"\n');
  await chmod(path.join(bin, 'npm'), 0o755);

  const editing = path.join(work, 'bakery');
  await cp(fixture, editing, { recursive: true });
  await mkdir(path.join(editing, 'bin'));
  await writeFile(
    path.join(editing, 'bin', 'bake.js'),
    `#!/usr/bin/env node\nawait import(${JSON.stringify(pathToFileURL(path.resolve('bin/bake.js')).href)});\n`,
  );
  await chmod(path.join(editing, 'bin', 'bake.js'), 0o755);
  await writeFile(path.join(editing, '.gitignore'), '.bake/\nreports/\nplan.json\npin.diff\n');
  await edit(editing);
  await git(editing, 'init', '-q', '-b', 'main');
  await git(editing, 'add', '-A');
  await git(editing, 'commit', '-q', '-m', 'bakery');
  const origin = path.join(work, 'origin.git');
  await git(work, 'clone', '-q', '--bare', editing, origin);
  await git(editing, 'remote', 'add', 'origin', origin);
  return { editing, origin, bin };
}
