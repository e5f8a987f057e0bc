/**
 * The one place where bake turns data into HCL text. Whatever the value holds, the result is
 * a single quoted literal: quotes and backslashes escaped, `${`/`%{` escaped so they are not
 * templates, newlines and other control characters written as escapes.
 */
export function hclString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    const next = value[i + 1];
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if ((c === '$' || c === '%') && next === '{') out += c + c;
    else if (c < ' ' || c === '\u007f' || c === '\u2028' || c === '\u2029') {
      out += `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    } else out += c;
  }
  return `${out}"`;
}

const BARE_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** True when `key` can be written without quotes (region names like us-east-1 can). */
export function isBareKey(key: string): boolean {
  return BARE_KEY.test(key) && key !== 'true' && key !== 'false' && key !== 'null';
}

export function hclKey(key: string, style: 'bare' | 'quoted'): string {
  return style === 'bare' && isBareKey(key) ? key : hclString(key);
}

/** A variable name bake may write at the top level of a tfvars file. */
export function isVariableName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(name);
}

/**
 * How @cdktf/hcl2json reports a literal string: it keeps template escapes, so a literal `${`
 * reads back as `$${` (the Terraform JSON syntax spelling).
 */
export function asParsedByHcl2json(value: string): string {
  return value.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}
