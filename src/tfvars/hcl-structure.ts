/**
 * The shape of a tfvars body as spans: top-level attributes, and for each one whether its
 * value is a plain string, an object of plain strings, or something bake must not touch.
 */
import { ScanError, tokenize, type Token } from './hcl-tokens.js';

export type HclValue =
  | { kind: 'string'; token: Token; literal: string }
  | { kind: 'object'; open: Token; close: Token; entries: HclEntry[]; plain: boolean }
  | { kind: 'other'; start: number; end: number; description: string };

export interface HclEntry {
  /** The key as a string; undefined when the key is an expression like `(var.x)`. */
  key?: string;
  keyStyle: 'bare' | 'quoted' | 'expression';
  keyStart: number;
  keyEnd: number;
  /** The `=` or `:` between key and value. */
  separator: Token;
  value: HclValue;
  /** The comma right after the value, if any. */
  comma?: Token;
}

export interface HclAttribute {
  name: string;
  nameStart: number;
  value: HclValue;
}

export function readAttributes(text: string): HclAttribute[] {
  const tokens = tokenize(text);
  const attributes: HclAttribute[] = [];
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i];
    if (token.kind === 'newline' || token.kind === 'comment') {
      i++;
      continue;
    }
    const eq = skipComments(tokens, i + 1);
    if (token.kind !== 'ident' || tokens[eq]?.text !== '=') {
      throw new ScanError('expected `name = value` (tfvars hold attributes only)', token.start);
    }
    const valueStart = skipComments(tokens, eq + 1);
    let end = valueStart;
    let depth = 0;
    while (end < tokens.length && !(depth === 0 && tokens[end].kind === 'newline')) {
      depth += bracketDelta(tokens[end]);
      end++;
    }
    let last = end - 1;
    while (last >= valueStart && tokens[last].kind === 'comment') last--;
    if (last < valueStart) throw new ScanError(`${token.text} has no value`, token.start);
    attributes.push({ name: token.text, nameStart: token.start, value: classify(tokens, valueStart, last) });
    i = end;
  }
  return attributes;
}

function skipComments(tokens: Token[], i: number): number {
  while (tokens[i]?.kind === 'comment') i++;
  return i;
}

function bracketDelta(token: Token): number {
  if (token.kind !== 'punct') return 0;
  if (token.text === '{' || token.text === '[' || token.text === '(') return 1;
  if (token.text === '}' || token.text === ']' || token.text === ')') return -1;
  return 0;
}

/** Classifies the value made of tokens[first..last] (inclusive, no outer comments). */
function classify(tokens: Token[], first: number, last: number): HclValue {
  const head = tokens[first];
  if (first === last && head.kind === 'string' && head.literal !== undefined) {
    return { kind: 'string', token: head, literal: head.literal };
  }
  if (head.text === '{' && matchingClose(tokens, first) === last) {
    const object = readObject(tokens, first, last);
    if (object) return object;
  }
  return { kind: 'other', start: head.start, end: tokens[last].end, description: describe(tokens, first, last) };
}

function matchingClose(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    depth += bracketDelta(tokens[i]);
    if (depth === 0) return i;
  }
  return -1;
}

function describe(tokens: Token[], first: number, last: number): string {
  const head = tokens[first];
  const whole = first === last;
  if (head.kind === 'heredoc' && whole) return 'a heredoc';
  if (head.kind === 'string' && whole) return 'a string template (it holds ${…} or %{…})';
  if (head.kind === 'number' && whole) return 'a number';
  if (head.kind === 'ident' && whole && (head.text === 'true' || head.text === 'false')) return 'a bool';
  if (head.kind === 'ident' && whole && head.text === 'null') return 'null';
  if (head.text === '[' && matchingClose(tokens, first) === last) return 'a list';
  if (head.text === '{') return 'an object bake cannot edit (a for expression or computed keys)';
  return 'an expression (a reference or a function call)';
}

/** `{ key = value, … }`; undefined for shapes like `{ for … }`. */
function readObject(tokens: Token[], open: number, close: number): HclValue | undefined {
  const entries: HclEntry[] = [];
  let i = open + 1;
  const skipTrivia = () => {
    while (i < close && (tokens[i].kind === 'newline' || tokens[i].kind === 'comment')) i++;
  };
  skipTrivia();
  if (tokens[i]?.kind === 'ident' && tokens[i].text === 'for') return undefined;
  while (i < close) {
    const keyFirst = i;
    let depth = 0;
    while (i < close && !(depth === 0 && (tokens[i].text === '=' || tokens[i].text === ':'))) {
      if (depth === 0 && (tokens[i].kind === 'newline' || tokens[i].text === ',')) return undefined;
      depth += bracketDelta(tokens[i]);
      i++;
    }
    if (i >= close) return undefined;
    const separator = tokens[i];
    let keyLast = i - 1;
    while (keyLast > keyFirst && tokens[keyLast].kind === 'comment') keyLast--;
    const keyToken = tokens[keyFirst];
    let key: string | undefined;
    let keyStyle: HclEntry['keyStyle'] = 'expression';
    if (keyFirst === keyLast && keyToken.kind === 'ident') {
      key = keyToken.text;
      keyStyle = 'bare';
    } else if (keyFirst === keyLast && keyToken.kind === 'string' && keyToken.literal !== undefined) {
      key = keyToken.literal;
      keyStyle = 'quoted';
    }
    i = skipComments(tokens, i + 1);
    const valueFirst = i;
    depth = 0;
    while (i < close && !(depth === 0 && (tokens[i].kind === 'newline' || tokens[i].text === ','))) {
      depth += bracketDelta(tokens[i]);
      i++;
    }
    let valueLast = i - 1;
    while (valueLast >= valueFirst && tokens[valueLast].kind === 'comment') valueLast--;
    if (valueLast < valueFirst) return undefined;
    const comma = tokens[i]?.text === ',' && i < close ? tokens[i] : undefined;
    if (comma) i++;
    entries.push({
      key,
      keyStyle,
      keyStart: keyToken.start,
      keyEnd: tokens[keyLast].end,
      separator,
      value: classify(tokens, valueFirst, valueLast),
      comma,
    });
    skipTrivia();
  }
  const plain = entries.every((e) => e.keyStyle !== 'expression' && e.value.kind === 'string');
  return { kind: 'object', open: tokens[open], close: tokens[close], entries, plain };
}
