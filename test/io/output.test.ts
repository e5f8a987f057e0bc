/** How bake prints: the answer on stdout, everything about the run on stderr; colour only on a terminal; timestamps in CI. */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOutput } from '../../src/io/output.js';

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { written, isTTY, write: (text: string) => written.push(text) };
}
const at = () => new Date('2026-11-22T19:00:00Z');

describe('output', () => {
  it('shows control characters from names and tags as visible escapes, never as terminal commands', () => {
    const out = stream(true);
    const output = createOutput({ json: false, env: {}, stdout: out, stderr: out, now: at });
    // A lock holder (another job's BUILD_URL) that sets the window title, clears the screen and hides itself.
    output.info('web is already being built by https://ci/\u001b]0;owned\u0007\u001b[2J\rok \u202eexe.txt');
    output.warn('tag value a\u0000b\u009bc');
    output.error('recipes/web.yaml:3:1: bad \u001b[2J');
    expect(out.written).toEqual([
      'web is already being built by https://ci/\\x1b]0;owned\\x07\\x1b[2J\\x0dok \\u202eexe.txt\n',
      'warning: tag value a\\x00b\\x9bc\n',
      'recipes/web.yaml:3:1: bad \\x1b[2J\n',
    ]);
    output.info('two lines\n\tindented');
    expect(out.written[3]).toBe('two lines\n\tindented\n');
  });

  it('on a terminal: interactive, in colour, no timestamps', () => {
    const out = stream(true);
    const output = createOutput({ json: false, env: {}, stdout: out, stderr: out, now: at });
    output.info('base: build');
    expect([output.interactive, output.color]).toEqual([true, true]);
    expect(out.written).toEqual(['base: build\n']);
  });

  it('honours NO_COLOR (any value, even empty) and TERM=dumb on a terminal', () => {
    for (const env of [{ NO_COLOR: '1' }, { NO_COLOR: '' }, { TERM: 'dumb' }]) {
      expect(createOutput({ json: false, env, stdout: stream(true), stderr: stream(true) }).color).toBe(false);
    }
  });

  it('in Jenkins (CI=true, or output not a terminal): no colour, timestamped progress, the answer and errors as they are', () => {
    for (const [env, tty] of [
      [{ CI: 'true' }, true],
      [{}, false],
    ] as const) {
      const out = stream(tty);
      const err = stream(tty);
      const output = createOutput({ json: false, env, stdout: out, stderr: err, now: at });
      output.progress('web: building');
      output.info('web: reuse ami-1');
      output.warn('no packer');
      output.error('recipes/web.yaml:3:1: unknown key');
      expect([output.interactive, output.color]).toEqual([false, false]);
      expect(out.written).toEqual(['web: reuse ami-1\n']);
      expect(err.written).toEqual([
        '2026-11-22T19:00:00.000Z web: building\n',
        '2026-11-22T19:00:00.000Z warning: no packer\n',
        'recipes/web.yaml:3:1: unknown key\n',
      ]);
    }
  });

  it('without --json: the answer (info lines, text) on stdout; progress, notes, warnings, errors on stderr', () => {
    const out = stream(true);
    const err = stream(true);
    const output = createOutput({ json: false, env: {}, stdout: out, stderr: err, now: at });
    output.progress('web: building');
    output.note('bakery web (from the folder name)');
    output.warn('no packer');
    output.error('bake: internal error: x');
    output.debug('stack trace');
    output.info('web: build');
    output.text('digraph {}\n');
    output.result({ recipes: [] });
    expect(out.written).toEqual(['web: build\n', 'digraph {}\n']);
    expect(err.written).toEqual([
      'web: building\n',
      'note: bakery web (from the folder name)\n',
      'warning: no packer\n',
      'bake: internal error: x\n',
    ]);
  });

  it('with --json: stdout holds the JSON document alone, every line for people goes to stderr', () => {
    const out = stream(false);
    const err = stream(false);
    const output = createOutput({ json: true, env: { CI: 'true' }, stdout: out, stderr: err, now: at });
    output.info('planning');
    output.text('digraph {}\n');
    output.result({ recipes: [] });
    expect(err.written).toEqual(['2026-11-22T19:00:00.000Z planning\n']);
    expect(JSON.parse(out.written.join(''))).toEqual({ recipes: [] });
  });

  it('shows debug text (stack traces) with --debug only', () => {
    const err = stream(false);
    createOutput({ json: false, debug: true, env: {}, stdout: stream(false), stderr: err }).debug('Error: x\n    at y');
    expect(err.written).toEqual(['Error: x\n    at y\n']);
  });

  it('is the only module under src/ that writes to the process streams', async () => {
    const src = path.resolve(import.meta.dirname, '../../src');
    const files = (await readdir(src, { recursive: true })).filter((file) => file.endsWith('.ts')).sort();
    const writers: string[] = [];
    for (const file of files) {
      const text = await readFile(path.join(src, file), 'utf8');
      if (/\bprocess\.std(out|err)\b|\bconsole\.(log|info|warn|error|debug)\s*\(/.test(text)) writers.push(file);
    }
    expect(files.length).toBeGreaterThan(100);
    expect(writers).toEqual(['io/output.ts']);
  });
});
