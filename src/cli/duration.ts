/** Durations on the command line, in the format recipes use (src/recipes/duration.ts). */
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../recipes/duration.js';

/** A commander argument parser: `--lock-wait 10m` → 600000. */
export function durationArgument(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration such as 90s, 30m, 12h, 30d or 2w');
  return ms;
}
