/**
 * The one place where a string becomes a POSIX shell word. Single quotes make everything
 * literal except the quote itself, which is closed, escaped and reopened: `'it'\''s'`.
 */
import { BakeError } from '../errors/index.js';

// With the u flag a surrogate range matches only unpaired surrogates, never half of an emoji.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

export function shellQuote(value: string): string {
  if (value.includes('\0')) {
    // A NUL cannot be part of any argument the kernel passes on: refuse rather than truncate.
    throw new BakeError(`value ${JSON.stringify(value)} contains a NUL character, which no shell argument can hold`);
  }
  if (LONE_SURROGATE.test(value)) {
    // No UTF-8 form: the script would carry U+FFFD, a different argument than the one asked for.
    throw new BakeError(
      `value ${JSON.stringify(value)} contains an unpaired UTF-16 surrogate, which no shell argument can hold`,
    );
  }
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
