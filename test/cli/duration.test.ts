import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { durationArgument } from '../../src/cli/duration.js';
import { parseDuration } from '../../src/recipes/duration.js';

describe('durations on the command line', () => {
  it('reads seconds to weeks, and joined parts', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('30d')).toBe(2_592_000_000);
    expect(parseDuration('2w')).toBe(1_209_600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('0')).toBe(0);
  });

  it('refuses what is not one, with the accepted forms in the message', () => {
    for (const text of ['', '10', '5 days', '-3d', '1.5h', 'h']) expect(parseDuration(text)).toBeUndefined();
    expect(() => durationArgument('10')).toThrow(InvalidArgumentError);
    expect(() => durationArgument('10')).toThrow('expected a duration such as 90s, 30m, 12h, 30d or 2w');
  });
});
