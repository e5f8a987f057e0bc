/**
 * The one place where values become shell words. Single quotes make everything literal
 * except the quote itself, which is closed, escaped and reopened: `'it'\''s'`.
 */
import { BakeError } from '../errors/index.js';

export function shellQuote(value: string): string {
  if (value.includes('\0')) {
    // A NUL cannot be part of any argument the kernel passes on: refuse rather than truncate.
    throw new BakeError(`value ${JSON.stringify(value)} contains a NUL character, which no shell argument can hold`);
  }
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
