/**
 * The generator version is part of every fingerprint: bumping it rebuilds every recipe, and NOT
 * bumping it when the generated templates change would reuse images made from other templates.
 * The golden files (test/fixtures/packer/golden: Packer templates of both shapes, playbook,
 * verify script) are what the generator writes; their hash is recorded with the generator
 * version it belongs to, so a change to them fails here until the version is bumped and
 * CHANGELOG.md says so.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATOR_VERSION } from '../../src/packer/generator-version.js';
import { GOLDEN_DIR } from './representative-recipes.js';

const RECORD = path.join(GOLDEN_DIR, '..', 'generator-version.txt');
const CHANGELOG = path.resolve(import.meta.dirname, '../../CHANGELOG.md');

async function goldenHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(GOLDEN_DIR)).sort()) {
    hash.update(`${name}\0`);
    hash.update(await readFile(path.join(GOLDEN_DIR, name)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

async function readRecord(): Promise<{ version: string; hash: string }> {
  const match = /^generator (\S+) sha256:([0-9a-f]{64})$/m.exec(await readFile(RECORD, 'utf8'));
  if (!match) throw new Error(`${RECORD}: expected a line "generator N sha256:<hex>"`);
  return { version: match[1], hash: match[2] };
}

describe('the generator version', () => {
  it('is bumped whenever the generated templates change', async () => {
    const hash = await goldenHash();
    const record = await readRecord();
    if (record.version !== GENERATOR_VERSION && process.env.UPDATE_GOLDEN === '1') {
      await writeFile(
        RECORD,
        `# The golden files' hash for the generator version they belong to (test/packer/generator-guard.test.ts).\ngenerator ${GENERATOR_VERSION} sha256:${hash}\n`,
      );
      return;
    }
    expect(
      record.version,
      `GENERATOR_VERSION is ${GENERATOR_VERSION} but the golden files were recorded for generator ${record.version}: run this test with UPDATE_GOLDEN=1 to record them for ${GENERATOR_VERSION}`,
    ).toBe(GENERATOR_VERSION);
    expect(
      hash,
      `the generated templates (test/fixtures/packer/golden) changed, but GENERATOR_VERSION is still ${GENERATOR_VERSION}: ` +
        'every image baked from the old templates would be reused. Bump it in src/packer/generator-version.ts, ' +
        'add a CHANGELOG.md entry naming the new generator version, then run this test with UPDATE_GOLDEN=1',
    ).toBe(record.hash);
  });

  it('has its entry in CHANGELOG.md, so an upgrade that rebuilds every recipe says why', async () => {
    const changelog = await readFile(CHANGELOG, 'utf8');
    expect(changelog, `CHANGELOG.md names no "generator version ${GENERATOR_VERSION}"`).toMatch(
      new RegExp(`^- .*\\bgenerator version ${GENERATOR_VERSION.replace(/\./g, '\\.')}\\b`, 'im'),
    );
  });
});
