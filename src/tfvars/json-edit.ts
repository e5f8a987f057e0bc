/**
 * Edits a `.tfvars.json` text in place: values replaced where they stand, missing members added
 * after the last one in the file's own indentation and `": "` spacing. Key order is kept.
 * Values are written with JSON.stringify, so nothing in them can escape their quotes.
 */
import { TfvarsError } from '../errors/index.js';
import { readJson, type JsonNode } from './json-structure.js';
import type { VariableEdit } from './pin-edit.js';
import { applySplices, detectEol, detectIndentUnit, indentOf, lineOf, startsLine, type Splice } from './text-layout.js';

type ObjectNode = Extract<JsonNode, { kind: 'object' }>;

interface NewMember {
  key: string;
  /** The member's value text, given the indentation of its own line. */
  render(indent: string, multiline: boolean): string;
}

interface JsonStyle {
  eol: string;
  unit: string;
  /** What stands between a key and its value, e.g. `": "` minus the quotes. */
  colon: string;
  /** What follows a comma on a one-line object. */
  comma: string;
}

export function editJsonText(file: string, text: string, variables: VariableEdit[]): string {
  const root = readJson(text);
  if (root.kind !== 'object') throw new TfvarsError('a .tfvars.json file must hold one JSON object', file, 1);
  const style = detectStyle(text, root);
  const refuse = (offset: number, message: string) => new TfvarsError(message, file, lineOf(text, offset));
  const splices: Splice[] = [];
  const added: NewMember[] = [];

  for (const edit of variables) {
    const found = root.members.filter((m) => m.key === edit.variable);
    if (found.length > 1) throw refuse(found[1].keyStart, `${edit.variable} is set more than once`);
    const member = found[0];
    if (!member) {
      added.push({ key: edit.variable, render: (indent, multiline) => renderValue(edit, indent, multiline, style) });
      continue;
    }
    const value = member.value;
    if (edit.kind === 'string') {
      if (value.kind !== 'string') {
        throw refuse(
          member.keyStart,
          `${edit.variable} is ${describe(value)}; its pin target writes a plain string (format: string)`,
        );
      }
      if (value.value !== edit.value)
        splices.push({ start: value.start, end: value.end, text: JSON.stringify(edit.value) });
      continue;
    }
    if (value.kind !== 'object') {
      throw refuse(
        member.keyStart,
        `${edit.variable} is ${describe(value)}; bake only edits a map of plain strings here`,
      );
    }
    for (const entry of value.members) {
      if (entry.value.kind !== 'string') {
        throw refuse(
          entry.keyStart,
          `${edit.variable}.${entry.key} is ${describe(entry.value)}; bake only edits a map of plain strings`,
        );
      }
    }
    const missing: NewMember[] = [];
    for (const [key, ami] of edit.entries) {
      const entries = value.members.filter((m) => m.key === key);
      if (entries.length > 1) throw refuse(entries[1].keyStart, `${edit.variable} sets "${key}" more than once`);
      const entry = entries[0]?.value;
      if (!entry) missing.push({ key, render: () => JSON.stringify(ami) });
      else if (entry.kind === 'string' && entry.value !== ami) {
        splices.push({ start: entry.start, end: entry.end, text: JSON.stringify(ami) });
      }
    }
    splices.push(...insertMembers(text, value, missing, style, text.includes('\n')));
  }
  splices.push(...insertMembers(text, root, added, style, true));
  return applySplices(text, splices);
}

function describe(node: JsonNode): string {
  if (node.kind === 'object') return 'a map';
  if (node.kind === 'array') return 'a list';
  if (node.kind === 'string') return 'a plain string';
  return 'a number, bool or null';
}

function detectStyle(text: string, root: ObjectNode): JsonStyle {
  const first = root.members[0];
  const between = first ? text.slice(first.keyEnd, first.value.start) : ': ';
  const colon = /^[ \t]*:[ \t]*$/.test(between) ? between : ': ';
  const second = root.members[1];
  const afterComma = second ? /,([ \t]*)$/.exec(text.slice(first.value.end, second.keyStart))?.[1] : undefined;
  return {
    eol: detectEol(text),
    unit: detectIndentUnit(text, '  '),
    colon,
    comma: afterComma ?? (colon.endsWith(' ') ? ' ' : ''),
  };
}

function insertMembers(
  text: string,
  object: ObjectNode,
  members: NewMember[],
  style: JsonStyle,
  expandWhenEmpty: boolean,
): Splice[] {
  if (members.length === 0) return [];
  const { eol, unit, colon, comma } = style;
  const objectIndent = indentOf(text, object.start);
  const multiline = text.slice(object.start, object.end).includes('\n');
  const last = object.members[object.members.length - 1];
  const line = (m: NewMember, indent: string, expanded: boolean) =>
    `${JSON.stringify(m.key)}${colon}${m.render(indent, expanded)}`;

  if (last && multiline) {
    const indent = startsLine(text, last.keyStart) ? indentOf(text, last.keyStart) : objectIndent + unit;
    const added = members.map((m) => `,${eol}${indent}${line(m, indent, true)}`).join('');
    return [{ start: last.value.end, end: last.value.end, text: added }];
  }
  if (last) {
    const added = members.map((m) => `,${comma}${line(m, '', false)}`).join('');
    return [{ start: last.value.end, end: last.value.end, text: added }];
  }
  if (multiline || expandWhenEmpty) {
    const indent = objectIndent + unit;
    const body = members.map((m) => `${indent}${line(m, indent, true)}`).join(`,${eol}`);
    return [{ start: object.start, end: object.end, text: `{${eol}${body}${eol}${objectIndent}}` }];
  }
  return [
    { start: object.start, end: object.end, text: `{${members.map((m) => line(m, '', false)).join(`,${comma}`)}}` },
  ];
}

function renderValue(edit: VariableEdit, indent: string, multiline: boolean, style: JsonStyle): string {
  if (edit.kind === 'string') return JSON.stringify(edit.value);
  const pairs = edit.entries.map(([key, value]) => `${JSON.stringify(key)}${style.colon}${JSON.stringify(value)}`);
  if (!multiline) return `{${pairs.join(`,${style.comma}`)}}`;
  const inner = indent + style.unit;
  return `{${style.eol}${pairs.map((p) => inner + p).join(`,${style.eol}`)}${style.eol}${indent}}`;
}
