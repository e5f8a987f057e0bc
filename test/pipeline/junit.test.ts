import { mkdtemp, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { BuildReport } from '../../src/pipeline/build-report.js';
import { junitXml, writeJunit } from '../../src/pipeline/junit.js';

const hostileName = `web"><script>&amp;</script><x a='1'`;
const hostileError = `packer build failed ]]> <!-- & "quoted" 'single' \u001b[31mred\u001b[0m \u0000nul`;

const report: BuildReport = {
  run_id: 'run-1',
  interrupted: false,
  pin: { status: 'skipped', reason: 'a recipe failed' },
  recipes: [
    {
      name: 'base',
      status: 'built',
      amis: { 'us-east-1': 'ami-1' },
      fingerprint: 'f1',
      duration_s: 61.5,
      log: '/b/.bake/logs/run-1/base.log',
      reasons: ['role nginx changed'],
    },
    { name: 'db', status: 'reused', amis: { 'us-east-1': 'ami-2' }, fingerprint: 'f2', duration_s: 0, reasons: [] },
    {
      name: hostileName,
      status: 'failed',
      amis: {},
      fingerprint: 'f3',
      duration_s: 12,
      log: '/b/.bake/logs/run-1/web.log',
      reasons: [],
      error: hostileError,
      log_tail: ['TASK [nginx : install] <fatal> & done', '\u001b[0;31mred line\u001b[0m'],
    },
    {
      name: 'web-canary',
      status: 'skipped',
      amis: {},
      fingerprint: 'f4',
      duration_s: 0,
      reasons: [],
      error: `parent ${hostileName} failed`,
    },
    {
      name: 'cache',
      status: 'aborted',
      amis: {},
      fingerprint: 'f5',
      duration_s: 3,
      reasons: [],
      error: 'run interrupted',
    },
  ],
};

const parse = (xml: string) =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'testcase' }).parse(
    xml,
  );

describe('JUnit report', () => {
  it('has one testcase per recipe in a "bake build" suite, with counts Jenkins reads', () => {
    const suite = parse(junitXml(report, '2026-11-22T19:00:00Z')).testsuites.testsuite;
    expect(suite).toMatchObject({
      name: 'bake build',
      tests: '5',
      failures: '1',
      errors: '1',
      skipped: '1',
      time: '76.500',
    });
    expect(suite.testcase.map((c: { name: string }) => c.name)).toEqual([
      'base',
      'db',
      hostileName,
      'web-canary',
      'cache',
    ]);
  });

  it('keeps hostile recipe names, messages and log lines intact as data', () => {
    const cases = parse(junitXml(report, '2026-11-22T19:00:00Z')).testsuites.testsuite.testcase;
    const failed = cases[2];
    expect(failed.name).toBe(hostileName);
    expect(failed.failure.message).toContain(`]]> <!-- & "quoted" 'single'`);
    expect(failed.failure['#text']).toContain('TASK [nginx : install] <fatal> & done');
    // Control characters cannot appear in XML 1.0: they are written visibly instead.
    expect(failed.failure.message).toContain('\\u001b[31mred');
    expect(failed.failure.message).toContain('\\u0000nul');
    expect(cases[3].skipped.message).toBe(`parent ${hostileName} failed`);
    expect(cases[4].error.message).toBe('run interrupted');
    expect(cases[0]['system-out']).toContain('amis: us-east-1=ami-1');
  });

  it('writes the file atomically, leaving no temp file behind', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-junit-'));
    const file = path.join(dir, 'bake-build.xml');
    await writeJunit(file, report, '2026-11-22T19:00:00Z');
    expect(parse(await readFile(file, 'utf8')).testsuites.testsuite.testcase).toHaveLength(5);
    expect(await readdir(dir)).toEqual(['bake-build.xml']);
  });

  it('never writes through a symbolic link another user planted at the path, nor through a link to a folder', async () => {
    const shared = await mkdtemp(path.join(tmpdir(), 'bake-junit-shared-'));
    const victim = path.join(shared, 'root-only');
    await writeFile(victim, 'root only\n', { mode: 0o600 });
    const link = path.join(shared, 'bake-build.xml');
    await symlink(victim, link);
    await expect(writeJunit(link, report, '2026-11-22T19:00:00Z')).rejects.toThrow(
      `${link}: is a symbolic link; refusing to write the JUnit report through it (remove it or choose another path)`,
    );
    expect(await readFile(victim, 'utf8')).toBe('root only\n');
    expect(await readdir(shared)).toEqual(['bake-build.xml', 'root-only']);
  });

  it('replaces an existing report by rename, with its own mode, whoever made the old one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-junit-'));
    const file = path.join(dir, 'bake-build.xml');
    await writeFile(file, 'old', { mode: 0o666 });
    const before = await stat(file);
    await writeJunit(file, report, '2026-11-22T19:00:00Z');
    const after = await stat(file);
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o644);
  });
});
