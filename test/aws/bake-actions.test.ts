import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BAKE_ACTIONS } from '../../src/aws/bake-actions.js';
import { ACTIONS, JSON_TARGETS, QUERY_ACTIONS } from '../../src/local-cloud/ec2-api/server.js';

const SRC = path.resolve(import.meta.dirname, '../../src');
const listed = new Set(BAKE_ACTIONS.map((entry) => entry.action));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return full.endsWith(`${path.sep}local-cloud`) ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/**
 * Every SDK command bake's code can send: the `…Command` names imported from an AWS SDK client,
 * in every module but the local cloud (which serves them rather than sending them). The bench's
 * stand-in Packer is included: it sends what Packer sends.
 */
function commandsSent(): Map<string, string[]> {
  const sent = new Map<string, string[]>();
  const imports = /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@aws-sdk\/client-(ec2|ssm|sts|kms|iam)'/g;
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const [, names, service] of text.matchAll(imports)) {
      for (const [, command] of names.matchAll(/\b(?<!type )(\w+)Command\b/g)) {
        const action = `${service}:${command}`;
        sent.set(action, [...(sent.get(action) ?? []), path.relative(SRC, file)]);
      }
    }
  }
  return sent;
}

/** What the local cloud serves but neither bake nor the Packer it drives calls, and why it is served. */
const SERVED_BUT_NOT_CALLED: Record<string, string> = {
  'ec2:ImportKeyPair': "tests import their own SSH keys; Packer's temporary key pair is made with CreateKeyPair",
  'ec2:StartInstances': "tests restart instances; Packer's amazon-ebs builder never starts a stopped one",
  'ec2:DeleteVolume': 'tests; the root volume goes with its instance (delete_on_termination)',
  'ec2:DeleteTags': 'tests',
  'ec2:RegisterImage': 'tests register base images of another architecture (arm64); bake bakes with CreateImage',
  'ssm:DescribeParameters': 'tests list the parameters bake pinned',
  'kms:CreateKey': "tests (and a bakery's own local set-up) make keys; bake never does",
  'kms:CreateAlias': 'as kms:CreateKey',
  'kms:DisableKey': 'tests make a disabled key for bake doctor',
};

describe('the one list of AWS actions bake calls (src/aws/bake-actions.ts)', () => {
  it('lists every SDK command bake sends: a new call fails this test until it is listed, and so enters the IAM policy', () => {
    const sent = commandsSent();
    // The scan itself must see bake's calls, or this test could not fail.
    expect(sent.size).toBeGreaterThan(25);
    expect(sent.has('ec2:RunInstances')).toBe(true);
    const missing = [...sent]
      .filter(([action]) => !listed.has(action))
      .map(([action, files]) => `${action} (${files.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it("lists every action the local cloud serves (it serves what bake and Packer call: an unserved one fails bake's tests with InvalidAction), unless said why not", () => {
    const served = [
      ...Object.keys(ACTIONS).map((action) => `ec2:${action}`),
      ...Object.entries(JSON_TARGETS).flatMap(([service, actions]) => actions.map((a) => `${service}:${a}`)),
      ...Object.entries(QUERY_ACTIONS).flatMap(([service, actions]) => actions.map((a) => `${service}:${a}`)),
    ];
    expect(served.filter((action) => !listed.has(action) && !Object.hasOwn(SERVED_BUT_NOT_CALLED, action))).toEqual([]);
    // An explanation for an action bake does call would hide it from this test.
    expect(
      Object.keys(SERVED_BUT_NOT_CALLED).filter((action) => listed.has(action) || !served.includes(action)),
    ).toEqual([]);
  });

  it('names each action once, as service:Action', () => {
    expect(BAKE_ACTIONS.map((entry) => entry.action).filter((a, i, all) => all.indexOf(a) !== i)).toEqual([]);
    for (const entry of BAKE_ACTIONS) expect(entry.action).toMatch(/^(ec2|ssm|kms|sts|iam):[A-Z][A-Za-z]+$/);
  });
});
