import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shellQuote } from '../../src/escape/shell-word.js';
import { hostileArgument, withLoneSurrogate } from './hostile-strings.js';

/** What `sh -c '<script>'` prints, as bytes decoded as UTF-8. */
async function shellOutput(shell: string, script: string, cwd: string): Promise<string> {
  const { stdout } = await execa(shell, ['-c', script], { cwd, encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(stdout).toString('utf8');
}

describe('shellQuote', () => {
  it('quotes with single quotes, closing and escaping the quote itself', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('')).toBe("''");
  });

  for (const shell of ['sh', 'bash']) {
    it(`hands any text to ${shell} -c 'printf %s …' as exactly that one argument, running nothing`, async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'bake-shell-word-'));
      await fc.assert(
        fc.asyncProperty(fc.array(hostileArgument, { minLength: 1, maxLength: 8 }), async (values) => {
          // One NUL after each argument: printf repeats its format for every argument it gets.
          const printed = await shellOutput(shell, `printf '%s\\0' ${values.map(shellQuote).join(' ')}`, dir);
          expect(printed.split('\0').slice(0, -1)).toEqual(values);
        }),
        { numRuns: 150 },
      );
      const single = fc.sample(hostileArgument, { numRuns: 20, seed: 20261130 });
      for (const value of single) expect(await shellOutput(shell, `printf %s ${shellQuote(value)}`, dir)).toBe(value);
      expect(await readdir(dir)).toEqual([]);
    });
  }

  it('runs none of the usual injections: each stays one literal argument', async () => {
    const values = [
      "it's",
      "'",
      "''",
      '$(touch pwned)',
      '`touch pwned`',
      '; touch pwned',
      '" && touch pwned "',
      '-n',
      '*',
      '~',
    ];
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-shell-word-'));
    const printed = await shellOutput('sh', `printf '%s\\0' ${values.map(shellQuote).join(' ')}`, dir);
    expect(printed.split('\0').slice(0, -1)).toEqual(values);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a NUL character, which no argument can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  it('refuses an unpaired surrogate, which has no UTF-8 form', () => {
    fc.assert(
      fc.property(
        withLoneSurrogate.filter((value) => !value.includes('\0')),
        (value) => {
          expect(() => shellQuote(value)).toThrow(/unpaired UTF-16 surrogate/);
        },
      ),
      { numRuns: 300 },
    );
  });
});
