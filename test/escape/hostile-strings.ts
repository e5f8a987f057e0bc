/**
 * Arbitrary strings for the escaping properties: any Unicode text, biased towards the pieces
 * that break naive quoting (template openers, quotes, backslashes, line breaks, invisible
 * line separators, controls).
 */
import fc from 'fast-check';

const FRAGMENTS = [
  '${',
  '%{',
  '$${',
  '%%{',
  '$',
  '%',
  '{',
  '}',
  '{{',
  '}}',
  '"',
  "'",
  '`',
  '\\',
  '\\"',
  "\\'",
  '\\n',
  '\\u0041',
  '\n',
  '\r',
  '\r\n',
  '\t',
  '\u0007',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ufffe',
  '\uffff',
  '🍞',
  'é',
  '#',
  '//',
  '/*',
  '<<EOF\n',
  '$(',
  ';',
  '&&',
  '|',
  '*',
  '~',
  '-n',
  '!unsafe',
  '{% raw %}',
];

/** One Unicode scalar value (no lone surrogates) or one of the fragments above. */
const piece = fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));

/** Well-formed (UTF-8 encodable) text. */
export const hostileText = fc.string({ unit: piece, maxLength: 24 });

/** Well-formed text in Unicode normalization form C (HCL normalizes every string to it). */
export const hostileNfcText = hostileText.filter((value) => value.normalize('NFC') === value);

/** Text that HCL would change by normalizing it to NFC. */
export const notNfcText = fc
  .tuple(hostileText, fc.constantFrom('e\u0301', '\u212b', '\u{2f800}', 'a\u0308\u0323'), hostileText)
  .map(([before, decomposed, after]) => before + decomposed + after);

/** Well-formed text without NUL: what a process argument can carry. */
export const hostileArgument = hostileText.filter((value) => !value.includes('\0'));

/** Text holding at least one unpaired UTF-16 surrogate, which has no UTF-8 form. */
export const withLoneSurrogate = fc
  .tuple(hostileText, fc.integer({ min: 0xd800, max: 0xdfff }), hostileText)
  .map(([before, unit, after]) => before + String.fromCharCode(unit) + after);
