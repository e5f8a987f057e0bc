/** How bake decides to print: colour only on a terminal and never with NO_COLOR; timestamps in CI. */
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
    expect(out.written).toEqual([
      'web is already being built by https://ci/\\x1b]0;owned\\x07\\x1b[2J\\x0dok \\u202eexe.txt\n',
      'warning: tag value a\\x00b\\x9bc\n',
    ]);
    output.info('two lines\n\tindented');
    expect(out.written[2]).toBe('two lines\n\tindented\n');
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

  it('in Jenkins (CI=true, or output not a terminal): no colour, timestamped lines', () => {
    for (const [env, tty] of [[{ CI: 'true' }, true], [{}, false]] as const) {
      const out = stream(tty);
      const output = createOutput({ json: false, env, stdout: out, stderr: out, now: at });
      output.info('web: reuse ami-1');
      expect([output.interactive, output.color]).toEqual([false, false]);
      expect(out.written).toEqual(['2026-11-22T19:00:00.000Z web: reuse ami-1\n']);
    }
  });

  it('with --json keeps stdout for the result and sends people\'s lines to stderr', () => {
    const out = stream(false);
    const err = stream(false);
    const output = createOutput({ json: true, env: { CI: 'true' }, stdout: out, stderr: err, now: at });
    output.info('planning');
    output.result({ recipes: [] });
    expect(err.written).toEqual(['2026-11-22T19:00:00.000Z planning\n']);
    expect(JSON.parse(out.written.join(''))).toEqual({ recipes: [] });
  });
});
