import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { renderVerifyScript } from '../../src/packer/verify-script.js';
import type { VerifyCheck } from '../../src/recipes/model.js';
import { checkResult } from '../../src/verify/check-result.js';
import { HOSTILE } from '../packer/hostile-values.js';

const location = { file: '/srv/bakery/recipes/app.yaml', line: 12, col: 5 };

/** The script bake verify sends for one check, run by the local /bin/sh instead of over ssh. */
async function runAlone(check: VerifyCheck, cwd: string) {
  const started = Date.now();
  const result = await execa('sh', ['-s'], {
    input: renderVerifyScript([check]),
    cwd,
    reject: false,
    stripFinalNewline: false,
  });
  return checkResult(check, {
    exitCode: result.exitCode ?? 255,
    stderr: result.stderr,
    durationMs: Date.now() - started,
  });
}

describe("one check's result", () => {
  it('passes, named as the verify script names it, with where it is written', async () => {
    const result = await runAlone({ kind: 'file', path: '/bin/sh', location }, tmpdir());
    expect(result).toMatchObject({
      check: 'file exists: /bin/sh',
      kind: 'file',
      status: 'passed',
      output: '',
      location: '/srv/bakery/recipes/app.yaml:12:5',
    });
  });

  it("fails with exactly the check's own output, without the script's framing lines", async () => {
    const result = await runAlone(
      { kind: 'command', command: 'echo first; echo second >&2; exit 4', location },
      tmpdir(),
    );
    expect(result.status).toBe('failed');
    expect(result.output).toBe('first\nsecond');
  });

  it('keeps hostile names and outputs intact, and never runs them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-verify-check-'));
    for (const value of [...HOSTILE.filter((v) => !v.includes('\0')), '$(touch pwned)', "'; touch pwned; '"]) {
      const result = await runAlone({ kind: 'package', name: value, location }, dir);
      expect(result.check).toBe(`package installed: ${value}`);
      expect(result.status).toBe('failed');
    }
    expect(await readdir(dir)).toEqual([]);
    await rm(dir, { recursive: true });
  });

  it('says when ssh itself failed', () => {
    const result = checkResult(
      { kind: 'command', command: 'true', location },
      { exitCode: 255, stderr: 'Connection refused\n', durationMs: 10 },
    );
    expect(result).toMatchObject({ status: 'failed', output: 'ssh failed: Connection refused' });
  });
});
