/**
 * The one place where values become HCL2 text. Every recipe value that reaches a Packer
 * template or a var file goes through here, so no caller ever concatenates user data into HCL.
 */
import { BakeError } from '../errors/index.js';

const NAMED_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * A quoted HCL2 template string whose value is exactly `value`. Quoted strings in HCL2 are
 * templates, so besides the usual escapes the interpolation (`${`) and directive (`%{`)
 * openers are doubled — otherwise `${var.secret}` in a tag would be evaluated by Packer.
 */
export function hclString(value: string): string {
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)) {
    // Unpaired surrogates have no UTF-8 form: the value could not survive the file.
    throw new BakeError(`value ${JSON.stringify(value)} contains an unpaired UTF-16 surrogate`);
  }
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    const next = value[i + 1];
    if ((ch === '$' || ch === '%') && next === '{') {
      out += ch + ch;
    } else if (ch in NAMED_ESCAPES) {
      out += NAMED_ESCAPES[ch];
    } else {
      const code = ch.charCodeAt(0);
      // Other control characters (and DEL) would be invisible or break the line: spell them out.
      out += code < 0x20 || code === 0x7f ? `\\u${code.toString(16).padStart(4, '0')}` : ch;
    }
  }
  return `"${out}"`;
}

/** `["a", "b"]` — a tuple of strings on one line. */
export function hclList(values: readonly string[]): string {
  return `[${values.map(hclString).join(', ')}]`;
}

/**
 * An object of string keys to string values, one entry a line, keys always quoted (tag keys
 * such as `bake:recipe` are not identifiers, and an unquoted key would be read as an expression).
 * `indent` is the column of the line the object starts on.
 */
export function hclMap(map: Readonly<Record<string, string>>, indent = 0): string {
  const keys = Object.keys(map);
  if (keys.length === 0) return '{}';
  const pad = ' '.repeat(indent + 2);
  const width = Math.max(...keys.map((key) => hclString(key).length));
  const lines = keys.map((key) => `${pad}${hclString(key).padEnd(width)} = ${hclString(map[key])}`);
  return `{\n${lines.join('\n')}\n${' '.repeat(indent)}}`;
}

/** A Packer var file (`*.pkrvars.hcl`): `name = "value"` per line. Names must be identifiers. */
export function hclAssignments(values: Readonly<Record<string, string>>): string {
  const names = Object.keys(values);
  const width = Math.max(0, ...names.map((name) => name.length));
  return names
    .map((name) => {
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new Error(`not an HCL identifier: ${JSON.stringify(name)}`);
      return `${name.padEnd(width)} = ${hclString(values[name])}\n`;
    })
    .join('');
}
