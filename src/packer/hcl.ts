/**
 * HCL2 shapes Packer templates and var files are made of. Every string in them is quoted by
 * `hclString` (src/escape/hcl-string.ts).
 */
import { BakeError } from '../errors/index.js';
import { hclString } from '../escape/hcl-string.js';

/**
 * Packer (1.6's built-in builders and the amazon plugin alike) runs string settings through Go's
 * text/template after HCL has evaluated them, some once and some twice (Packer 1.6.6 renders the
 * AMI description at prepare and again after the AMI exists): `{{ pwd }}` in a description
 * printed the agent's folder into a shared AMI, and no escape survives an unknown number of
 * passes. So no value bake writes for Packer may hold `{{`: free text (description, the recipe's
 * tags) is applied by bake through EC2 after Packer instead, and every other value has a format
 * that excludes it; this is the last guard.
 */
export function packerString(value: string): string {
  if (value.includes('{{'))
    throw new BakeError(`value ${JSON.stringify(value)} contains "{{", which Packer's template engine would evaluate`);
  return hclString(value);
}

/** `["a", "b"]` — a tuple of strings on one line. */
export function hclList(values: readonly string[]): string {
  return `[${values.map(packerString).join(', ')}]`;
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
  const width = Math.max(...keys.map((key) => packerString(key).length));
  const lines = keys.map((key) => `${pad}${packerString(key).padEnd(width)} = ${packerString(map[key])}`);
  return `{\n${lines.join('\n')}\n${' '.repeat(indent)}}`;
}

/** A Packer var file (`*.pkrvars.hcl`): `name = "value"` per line. Names must be identifiers. */
export function hclAssignments(values: Readonly<Record<string, string>>): string {
  const names = Object.keys(values);
  const width = Math.max(0, ...names.map((name) => name.length));
  return names
    .map((name) => {
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new Error(`not an HCL identifier: ${JSON.stringify(name)}`);
      return `${name.padEnd(width)} = ${packerString(values[name])}\n`;
    })
    .join('');
}
