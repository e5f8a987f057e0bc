import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BakeError } from '../../src/errors/index.js';
import { GENERATOR_VERSION } from '../../src/packer/generator-version.js';
import { versionLines, versionReport } from '../../src/pipeline/version-report.js';

const repo = path.resolve(import.meta.dirname, '../..');

describe('bake --version', () => {
  it("prints bake's version, the generator version and the shape for the packer on PATH (Debian's 1.6.6 here)", async () => {
    const { version } = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-V']) {
      const run = await execa('node', [path.join(repo, 'bin/bake.js'), flag]);
      expect(run.stdout.split('\n')).toEqual([
        `bake ${version}`,
        `generator ${GENERATOR_VERSION} (the templates bake generates; part of every fingerprint)`,
        'packer 1.6.6: legacy template shape (Packer 1.6: amazon builder and ansible provisioner built in)',
      ]);
      expect(run.stderr).toBe('');
    }
  });

  it('names the modern shape for Packer 1.7 and later, and says what is wrong when packer is missing', async () => {
    const modern = await versionReport(async () => ({ version: '1.11.2', shape: 'modern' }));
    expect(versionLines(modern)[2]).toBe(
      'packer 1.11.2: modern template shape (Packer 1.7+: required_plugins amazon and ansible)',
    );
    const missing = await versionReport(async () => {
      throw new BakeError('packer not found: install it');
    });
    expect(versionLines(missing)).toEqual([
      expect.stringMatching(/^bake \d+\.\d+\.\d+/),
      expect.stringMatching(/^generator /),
      'packer: packer not found: install it',
    ]);
  });
});
