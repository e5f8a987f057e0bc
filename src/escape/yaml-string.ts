/**
 * The one place where a string becomes a YAML scalar in a file bake writes from a template (the
 * files `bake init` scaffolds): always double-quoted, so a value such as `123`, `yes`, `null`,
 * `~` or `a: b` stays that exact string instead of becoming a number, a boolean, a null or a map.
 */
import { BakeError } from '../errors/index.js';

// JSON's escapes are YAML's too; these it leaves raw, and YAML readers take them for line breaks or refuse them.
const SPELLED_OUT = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;
const LONE_SURROGATE = /[\ud800-\udfff]/u;

export function yamlString(value: string): string {
  if (LONE_SURROGATE.test(value)) {
    throw new BakeError(`value ${JSON.stringify(value)} contains an unpaired UTF-16 surrogate, which no file can hold`);
  }
  return JSON.stringify(value).replace(SPELLED_OUT, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
