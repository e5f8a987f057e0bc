/**
 * A tokenizer for HCL native syntax, just deep enough to find the exact byte span of a value:
 * strings (escapes, `${…}`/`%{…}` template sequences, which may nest strings and braces),
 * heredocs, the three comment forms and brackets. It never decides what a file means: the
 * real parser (@cdktf/hcl2json) does, before and after every edit.
 *
 * Offsets are indices into the JS string, so splicing at them keeps every other character,
 * and therefore every other byte once re-encoded as UTF-8.
 */

export type TokenKind = 'newline' | 'comment' | 'string' | 'heredoc' | 'ident' | 'number' | 'punct';

export interface Token {
  kind: TokenKind;
  start: number;
  /** Exclusive. */
  end: number;
  text: string;
  /** For `string`: the literal value when the string holds no template sequence, else undefined. */
  literal?: string;
}

/** The scanner met something it cannot follow (the real parser has the final word). */
export class ScanError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const IDENT = /[\p{ID_Start}_][\p{ID_Continue}-]*/uy;
const NUMBER = /[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const TWO_CHAR_OPERATORS = new Set(['==', '!=', '<=', '>=', '=>', '&&', '||']);

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const push = (kind: TokenKind, start: number, end: number, literal?: string) => {
    tokens.push({ kind, start, end, text: text.slice(start, end), literal });
  };
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || (c === '\r' && text[i + 1] !== '\n')) {
      i++;
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      const end = c === '\r' ? i + 2 : i + 1;
      push('newline', i, end);
      i = end;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      const end = lineEnd(text, i);
      push('comment', i, end);
      i = end;
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) throw new ScanError('unterminated /* comment', i);
      push('comment', i, close + 2);
      i = close + 2;
    } else if (c === '"') {
      const { end, literal } = scanQuoted(text, i);
      push('string', i, end, literal);
      i = end;
    } else if (c === '<' && text[i + 1] === '<' && /[-A-Za-z_]/.test(text[i + 2] ?? '')) {
      const end = scanHeredoc(text, i);
      push('heredoc', i, end);
      i = end;
    } else {
      IDENT.lastIndex = i;
      NUMBER.lastIndex = i;
      const ident = IDENT.exec(text);
      const number = ident ? null : NUMBER.exec(text);
      if (ident) {
        push('ident', i, i + ident[0].length);
        i += ident[0].length;
      } else if (number) {
        push('number', i, i + number[0].length);
        i += number[0].length;
      } else if (text.startsWith('...', i)) {
        push('punct', i, i + 3);
        i += 3;
      } else if (TWO_CHAR_OPERATORS.has(text.slice(i, i + 2))) {
        push('punct', i, i + 2);
        i += 2;
      } else {
        const width = (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
        push('punct', i, i + width);
        i += width;
      }
    }
  }
  return tokens;
}

function lineEnd(text: string, from: number): number {
  const newline = text.indexOf('\n', from);
  if (newline < 0) return text.length;
  return text[newline - 1] === '\r' ? newline - 1 : newline;
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

/** A quoted template starting at `start` (the opening quote). */
function scanQuoted(text: string, start: number): { end: number; literal?: string } {
  let i = start + 1;
  let literal: string | undefined = '';
  while (i < text.length) {
    const c = text[i];
    if (c === '"') return { end: i + 1, literal };
    if (c === '\n' || c === '\r') break;
    if (c === '\\') {
      const next = text[i + 1] ?? '';
      if (next in SIMPLE_ESCAPES) {
        literal = literal === undefined ? undefined : literal + SIMPLE_ESCAPES[next];
        i += 2;
      } else if (next === 'u' || next === 'U') {
        const digits = next === 'u' ? 4 : 8;
        const hex = text.slice(i + 2, i + 2 + digits);
        if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) throw new ScanError('invalid \\u escape', i);
        literal = literal === undefined ? undefined : literal + String.fromCodePoint(parseInt(hex, 16));
        i += 2 + digits;
      } else {
        throw new ScanError(`invalid escape \\${next}`, i);
      }
    } else if ((c === '$' || c === '%') && text[i + 1] === c && text[i + 2] === '{') {
      // `$${` and `%%{` are the escapes for a literal `${` and `%{`.
      literal = literal === undefined ? undefined : literal + c + '{';
      i += 3;
    } else if ((c === '$' || c === '%') && text[i + 1] === '{') {
      literal = undefined;
      i = skipTemplateSequence(text, i + 2);
    } else {
      literal = literal === undefined ? undefined : literal + c;
      i++;
    }
  }
  throw new ScanError('unterminated string', start);
}

/** Skips the expression of a `${…}` / `%{…}` sequence; returns the index after its `}`. */
function skipTemplateSequence(text: string, from: number): number {
  let depth = 1;
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i = scanQuoted(text, i).end;
    } else if (c === '{') {
      depth++;
      i++;
    } else if (c === '}') {
      depth--;
      i++;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  throw new ScanError('unterminated template sequence', from);
}

/** `<<EOT` or `<<-EOT` … a line holding only the marker. Returns the end of the marker line. */
function scanHeredoc(text: string, start: number): number {
  const header = /<<-?([\p{ID_Start}_][\p{ID_Continue}-]*)[ \t]*\r?\n/uy;
  header.lastIndex = start;
  const match = header.exec(text);
  if (!match) throw new ScanError('malformed heredoc', start);
  const marker = match[1];
  let lineStart = start + match[0].length;
  while (lineStart < text.length) {
    const end = lineEnd(text, lineStart);
    if (text.slice(lineStart, end).trim() === marker) return end;
    const newline = text.indexOf('\n', lineStart);
    if (newline < 0) break;
    lineStart = newline + 1;
  }
  throw new ScanError(`heredoc ${marker} is not closed`, start);
}
