/**
 * The Jenkinsfile and scripts/jenkins-local.sh (which the e2e suite runs against the local cloud)
 * must run the same bake commands in the same order, or the local run proves nothing about Jenkins.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const jenkinsfile = readFileSync(path.join(repo, 'Jenkinsfile'), 'utf8');
const script = readFileSync(path.join(repo, 'scripts/jenkins-local.sh'), 'utf8');

/** `bake <command> --flag…` as written: the command and its flags, without where the cloud is (--local). */
function bakeCommands(text: string, invocation: RegExp): string[] {
  const commands: string[] = [];
  for (const line of text.split('\n')) {
    if (/^\s*(\/\/|#)/.test(line)) continue;
    const match = invocation.exec(line);
    if (!match) continue;
    const [command] = match[1].trim().split(/\s+/);
    const flags = [...match[1].matchAll(/--[a-z][a-z-]*/g)].map(([flag]) => flag).filter((flag) => flag !== '--local');
    commands.push([command, ...flags].join(' '));
  }
  return commands;
}

describe('Jenkinsfile and scripts/jenkins-local.sh', () => {
  it('run the same bake commands, with the same flags, in the same order', () => {
    const inJenkins = bakeCommands(jenkinsfile, /sh '\.\/bin\/bake\.js ([^']*)'/);
    const inScript = bakeCommands(script, /^\s*\(?(?:cd "\$\w+" && )?bake ((?!local-cloud)[a-z][^)>]*)/);
    expect(inJenkins).toEqual([
      'validate',
      'scan --json',
      'plan --json --changed-since --report',
      'build --no-pin --no-distribute --launch-test --parent-untested --lock-wait --junit --report',
      'build --no-pin --no-distribute --parent-untested --lock-wait --junit --report',
      'build --no-pin --lock-wait --junit --report',
      'pin',
    ]);
    expect(inScript).toEqual(inJenkins);
  });

  it('keeps CI output plain and the recipe name out of the shell text', () => {
    expect(jenkinsfile).toMatch(/NO_COLOR = '1'/);
    expect(script).toMatch(/export CI=true NO_COLOR=1/);
    // Groovy interpolation ("${recipe}") inside an sh step would let a name become shell code.
    expect(jenkinsfile).not.toMatch(/sh "[^"]*\$\{/);
    expect(jenkinsfile).toContain('withEnv(["RECIPE=${recipe}"])');
  });
});
