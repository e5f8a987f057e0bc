/**
 * The one place where a string becomes an HCL2 quoted literal: Packer templates, Packer var
 * files and tfvars edits all write strings through `hclString`, so no caller ever
 * concatenates data into HCL.
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
 * Characters written as `\uXXXX` though HCL would read them raw: C0/C1 controls and DEL are
 * invisible or move the cursor, and NEL, U+2028 and U+2029 are line breaks to editors, diff
 * viewers and JavaScript, so a value holding one would not stay on its visible line.
 */
const SPELLED_OUT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

// With the u flag a surrogate range matches only unpaired surrogates, never half of an emoji.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * A quoted HCL2 template string whose value is exactly `value`. Quoted strings in HCL2 are
 * templates, so besides the usual escapes the interpolation (`${`) and directive (`%{`)
 * openers are doubled — otherwise `${var.secret}` in a tag would be evaluated by Packer.
 *
 * A lone UTF-16 surrogate is refused rather than replaced: it has no UTF-8 form, so the
 * written file would hold U+FFFD (Node's encoder) and HCL refuses a `\ud800` escape outright.
 * Replacing it would write a value other than the one asked for (a tag or pin that silently
 * differs from the recipe); refusing gives the user one line naming the value instead.
 *
 * For the same reason text that is not in Unicode normalization form C is refused: the HCL
 * parser normalizes every string literal (escapes included) to NFC, so `e` + U+0301 would reach
 * Packer as `é` (U+00E9) whatever bake wrote.
 */
export function hclString(value: string): string {
  if (LONE_SURROGATE.test(value)) {
    throw new BakeError(`value ${JSON.stringify(value)} contains an unpaired UTF-16 surrogate, which no file can hold`);
  }
  if (value.normalize('NFC') !== value) {
    throw new BakeError(
      `value ${JSON.stringify(value)} is not in Unicode normalization form C, and HCL would read it as ${JSON.stringify(value.normalize('NFC'))}: write it composed`,
    );
  }
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if ((ch === '$' || ch === '%') && value[i + 1] === '{') out += ch + ch;
    else if (ch in NAMED_ESCAPES) out += NAMED_ESCAPES[ch];
    else if (SPELLED_OUT.test(ch)) out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `"${out}"`;
}

/**
 * How @cdktf/hcl2json reports a literal string: in Terraform's JSON syntax, where a literal
 * `${` is spelled `$${` and `%{` is spelled `%%{`.
 */
export function asParsedByHcl2json(value: string): string {
  return value.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}

/** The inverse of `asParsedByHcl2json`: the literal a string reported by hcl2json stands for (other values as they are). */
export function fromHcl2json(value: unknown): unknown {
  return typeof value === 'string' ? value.replace(/([$%])\1\{/g, '$1{') : value;
}
