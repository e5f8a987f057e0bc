import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BakeError } from '../../src/errors/index.js';
import { detectPackerShape, parsePackerVersion, shapeOfVersion } from '../../src/packer/shape.js';
import { PACKER } from './packer-cli.js';

/** A stand-in `packer` that prints what a given release prints for `packer version`. */
async function packerPrinting(output: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bake-fake-packer-'));
  const bin = path.join(dir, 'packer');
  await writeFile(bin, `#!/bin/sh\nprintf '%s\\n' '${output.replace(/'/g, `'\\''`)}'\n`);
  await chmod(bin, 0o755);
  return bin;
}

describe('detectPackerShape', () => {
  it('finds the legacy shape in the installed Packer 1.6.6', async () => {
    expect(await detectPackerShape(PACKER)).toEqual({ version: '1.6.6', shape: 'legacy' });
  });

  it('finds the modern shape in a plugin-era Packer, even when it nags about updates', async () => {
    const bin = await packerPrinting(
      'Packer v1.11.2\n\nYour version of Packer is out of date! The latest version\nis 1.12.0.',
    );
    expect(await detectPackerShape(bin)).toEqual({ version: '1.11.2', shape: 'modern' });
  });

  it('says how to install packer when there is none', async () => {
    const missing = path.join(tmpdir(), 'no-such-dir', 'packer');
    await expect(detectPackerShape(missing)).rejects.toThrow(BakeError);
    await expect(detectPackerShape(missing)).rejects.toThrow(/^packer not found: install it/);
  });
});

describe('shapeOfVersion', () => {
  it('draws the line at 1.7.0, where the Amazon builder became a plugin', () => {
    expect(shapeOfVersion('1.6.6')).toBe('legacy');
    expect(shapeOfVersion('1.6.99')).toBe('legacy');
    expect(shapeOfVersion('1.7.0')).toBe('modern');
    expect(shapeOfVersion('1.10.3')).toBe('modern');
    expect(shapeOfVersion('2.0.0')).toBe('modern');
    expect(shapeOfVersion('0.12.3')).toBe('legacy');
  });

  it('reads the version from the ways packer prints it', () => {
    expect(parsePackerVersion('Packer v1.6.6')).toBe('1.6.6');
    expect(parsePackerVersion('1.9.4')).toBe('1.9.4');
    expect(parsePackerVersion('nothing here')).toBeUndefined();
  });
});
