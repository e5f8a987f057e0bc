/**
 * HCL2 shapes Packer templates and var files are made of. Every string in them is quoted by
 * `hclString` (src/escape/hcl-string.ts).
 */
import { hclString } from '../escape/hcl-string.js';

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
