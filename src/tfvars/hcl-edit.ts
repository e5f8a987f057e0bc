/**
 * Edits an HCL tfvars text the way Renovate edits a version: find the exact span of each value
 * bake owns, replace only those characters, and add missing entries in the style of the lines
 * around them. Pure: text in, text out; verification by the real parser is the caller's job.
 */
import { TfvarsError } from '../errors/index.js';
import { hclString } from '../escape/hcl-string.js';
import { hclKey } from './hcl-literal.js';
import { readAttributes, type HclAttribute, type HclEntry, type HclValue } from './hcl-structure.js';
import { ScanError } from './hcl-tokens.js';
import type { VariableEdit } from './pin-edit.js';
import {
  appendBlocks,
  applySplices,
  detectEol,
  detectIndentUnit,
  indentOf,
  lineOf,
  lineStart,
  startsLine,
  type Splice,
} from './text-layout.js';

export function editHclText(file: string, text: string, variables: VariableEdit[]): string {
  let attributes: HclAttribute[];
  try {
    attributes = readAttributes(text);
  } catch (error) {
    if (!(error instanceof ScanError)) throw error;
    throw new TfvarsError(`bake cannot edit this file: ${error.message}`, file, lineOf(text, error.offset));
  }
  const eol = detectEol(text);
  const splices: Splice[] = [];
  const appended: string[] = [];
  for (const edit of variables) {
    const attribute = attributes.find((a) => a.name === edit.variable);
    if (!attribute) {
      appended.push(renderVariable(edit, eol));
    } else if (edit.kind === 'string') {
      const value = attribute.value;
      if (value.kind !== 'string') {
        const what = value.kind === 'object' ? 'a map' : value.description;
        throw refuse(
          file,
          text,
          attribute.nameStart,
          `${edit.variable} is ${what}; its pin target writes a plain string (format: string)`,
        );
      }
      if (value.literal !== edit.value) {
        splices.push({ start: value.token.start, end: value.token.end, text: hclString(edit.value) });
      }
    } else {
      splices.push(...editMap(file, text, attribute, edit.entries, eol));
    }
  }
  return appendBlocks(applySplices(text, splices), appended, eol);
}

function refuse(file: string, text: string, offset: number, message: string): TfvarsError {
  return new TfvarsError(message, file, lineOf(text, offset));
}

function editMap(
  file: string,
  text: string,
  attribute: HclAttribute,
  entries: Array<[string, string]>,
  eol: string,
): Splice[] {
  const object = attribute.value;
  const name = attribute.name;
  if (object.kind !== 'object') {
    const what = object.kind === 'string' ? 'a plain string' : object.description;
    throw refuse(file, text, attribute.nameStart, `${name} is ${what}; bake only edits a map of plain strings here`);
  }
  for (const entry of object.entries) {
    if (entry.keyStyle === 'expression') {
      throw refuse(file, text, entry.keyStart, `${name} has a computed key; bake only edits a map of plain strings`);
    }
    if (entry.value.kind !== 'string') {
      const what = entry.value.kind === 'object' ? 'a map' : entry.value.description;
      throw refuse(
        file,
        text,
        entry.keyStart,
        `${name}.${entry.key} is ${what}; bake only edits a map of plain strings`,
      );
    }
  }
  const splices: Splice[] = [];
  const missing: Array<[string, string]> = [];
  for (const [key, value] of entries) {
    const found = object.entries.filter((e) => e.key === key);
    if (found.length > 1) {
      throw refuse(
        file,
        text,
        found[1].keyStart,
        `${name} sets "${key}" more than once; bake will not guess which one to pin`,
      );
    }
    const current = found[0]?.value;
    if (!current) missing.push([key, value]);
    else if (current.kind === 'string' && current.literal !== value) {
      splices.push({ start: current.token.start, end: current.token.end, text: hclString(value) });
    }
  }
  if (missing.length > 0) splices.push(...insertEntries(text, attribute, object, missing, eol));
  return splices;
}

type ObjectValue = Extract<HclValue, { kind: 'object' }>;

function insertEntries(
  text: string,
  attribute: HclAttribute,
  object: ObjectValue,
  missing: Array<[string, string]>,
  eol: string,
): Splice[] {
  const existing = object.entries;
  const keyStyle = existing.length > 0 && existing.every((e) => e.keyStyle === 'quoted') ? 'quoted' : 'bare';
  const keys = missing.map(([key, value]) => [hclKey(key, keyStyle), hclString(value)] as const);
  const inside = text.slice(object.open.end, object.close.start);
  const last = existing[existing.length - 1];

  if (!inside.includes('\n') && last) {
    // A one-line map stays on one line: `{ a = "x", b = "y" }`.
    const before = gapBefore(text, last);
    const after = gapAfter(text, last);
    const added = keys.map(([k, v]) => `, ${k}${before}${last.separator.text}${after}${v}`).join('');
    return [{ start: valueEnd(last.value), end: valueEnd(last.value), text: added }];
  }

  const attributeIndent = indentOf(text, attribute.nameStart);
  const unit = detectIndentUnit(text, '  ');
  if (!inside.includes('\n') && inside.trim() === '') {
    // `{}` becomes a terraform-fmt style block.
    const lines = alignedLines(keys, attributeIndent + unit, 0, '=', ' ');
    const body = `{${eol}${lines.join(eol)}${eol}${attributeIndent}}`;
    return [{ start: object.open.start, end: object.close.end, text: body }];
  }

  const splices: Splice[] = [];
  const indent =
    last && startsLine(text, last.keyStart) ? indentOf(text, last.keyStart) : indentOf(text, object.close.start) + unit;
  const separator = last?.separator.text ?? '=';
  const after = last ? gapAfter(text, last) : ' ';
  const comma = last?.comma ? ',' : '';
  let lines: string[];
  const column = alignmentColumn(text, existing);
  if (column !== undefined) {
    const needed = Math.max(column, ...keys.map(([k]) => indent.length + k.length + 1));
    if (needed > column) {
      // terraform fmt aligns `=` down the map: re-pad the existing keys too (whitespace only).
      for (const entry of existing) {
        const gap = needed - (entry.keyEnd - lineStart(text, entry.keyEnd));
        splices.push({ start: entry.keyEnd, end: entry.separator.start, text: ' '.repeat(gap) });
      }
    }
    lines = alignedLines(keys, indent, needed, separator, after);
  } else {
    const before = last ? gapBefore(text, last) : ' ';
    lines = keys.map(([k, v]) => `${indent}${k}${before}${separator}${after}${v}`);
  }
  lines = lines.map((line) => line + comma);

  const closeLine = lineStart(text, object.close.start);
  if (startsLine(text, object.close.start)) {
    splices.push({ start: closeLine, end: closeLine, text: lines.map((line) => line + eol).join('') });
  } else {
    // `  c = "y" }`: the new lines go between the last entry and the brace.
    let from = object.close.start;
    while (from > 0 && (text[from - 1] === ' ' || text[from - 1] === '\t')) from--;
    const braceIndent = attributeIndent;
    splices.push({ start: from, end: object.close.start, text: `${eol}${lines.join(eol)}${eol}${braceIndent}` });
  }
  return splices;
}

function valueEnd(value: HclValue): number {
  if (value.kind === 'string') return value.token.end;
  if (value.kind === 'object') return value.close.end;
  return value.end;
}

/** Whitespace between key and separator (one space when it spans lines). */
function gapBefore(text: string, entry: HclEntry): string {
  const gap = text.slice(entry.keyEnd, entry.separator.start);
  return /^[ \t]*$/.test(gap) ? gap : ' ';
}

function gapAfter(text: string, entry: HclEntry): string {
  const start = entry.value.kind === 'string' ? entry.value.token.start : entry.separator.end;
  const gap = text.slice(entry.separator.end, start);
  return /^[ \t]*$/.test(gap) ? gap : ' ';
}

/**
 * The column of the separators when every entry sits on its own line with its separator at
 * the same column (a map terraform fmt has aligned, or a single entry); else undefined.
 */
function alignmentColumn(text: string, entries: HclEntry[]): number | undefined {
  if (entries.length === 0) return 0;
  let column: number | undefined;
  for (const entry of entries) {
    if (!startsLine(text, entry.keyStart)) return undefined;
    const gap = text.slice(entry.keyEnd, entry.separator.start);
    if (!/^ +$/.test(gap)) return undefined;
    const at = entry.separator.start - lineStart(text, entry.separator.start);
    if (column !== undefined && at !== column) return undefined;
    column = at;
  }
  return column;
}

/** `key = value` lines with separators at `column` (at least one space after the key). */
function alignedLines(
  keys: ReadonlyArray<readonly [string, string]>,
  indent: string,
  column: number,
  separator: string,
  after: string,
): string[] {
  const at = Math.max(column, ...keys.map(([k]) => indent.length + k.length + 1));
  return keys.map(([k, v]) => `${indent}${k}${' '.repeat(at - indent.length - k.length)}${separator}${after}${v}`);
}

function renderVariable(edit: VariableEdit, eol: string): string {
  if (edit.kind === 'string') return `${edit.variable} = ${hclString(edit.value)}`;
  const keys = edit.entries.map(([key, value]) => [hclKey(key, 'bare'), hclString(value)] as const);
  return `${edit.variable} = {${eol}${alignedLines(keys, '  ', 0, '=', ' ').join(eol)}${eol}}`;
}
