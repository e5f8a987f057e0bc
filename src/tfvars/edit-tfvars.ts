/**
 * `editTfvars`: the pure core of `bake pin`. The real parsers are the judges: a file that does
 * not parse is refused before anything is touched, and the edited text must parse to exactly
 * the original values with the intended ones changed, or nothing is returned at all.
 */
import { isDeepStrictEqual } from 'node:util';
import { parse as parseHcl } from '@cdktf/hcl2json';
import { TfvarsError } from '../errors/index.js';
import { editHclText } from './hcl-edit.js';
import { asParsedByHcl2json } from '../escape/hcl-string.js';
import { editJsonText } from './json-edit.js';
import { applyToParsed, groupEdits, type PinEdit } from './pin-edit.js';
import { lineOf } from './text-layout.js';

export type { PinEdit } from './pin-edit.js';

export function isJsonTfvars(fileName: string): boolean {
  return fileName.endsWith('.json');
}

export async function editTfvars(
  fileName: string,
  text: string,
  edits: PinEdit[],
): Promise<{ text: string; changed: boolean }> {
  const variables = groupEdits(fileName, edits);
  const json = isJsonTfvars(fileName);
  const before = json ? parseJsonTfvars(fileName, text) : await parseHclTfvars(fileName, text);
  if (variables.length === 0) return { text, changed: false };
  const edited = json ? editJsonText(fileName, text, variables) : editHclText(fileName, text, variables);
  if (edited === text) return { text, changed: false };

  let after: Record<string, unknown>;
  try {
    after = json ? parseJsonTfvars(fileName, edited) : await parseHclTfvars(fileName, edited);
  } catch (error) {
    throw notVerified(fileName, `the edited text does not parse (${(error as Error).message})`);
  }
  const expected = applyToParsed(before, variables, json ? (v) => v : asParsedByHcl2json);
  if (!isDeepStrictEqual(after, expected)) {
    throw notVerified(fileName, 'the edited text does not hold exactly the intended values');
  }
  return { text: edited, changed: true };
}

function notVerified(fileName: string, why: string): TfvarsError {
  return new TfvarsError(
    `bake refused its own edit, ${why}; the file was left untouched (a bug in bake, please report it)`,
    fileName,
  );
}

/** Top-level values of an HCL tfvars file, as @cdktf/hcl2json reads them. */
export async function parseHclTfvars(fileName: string, text: string): Promise<Record<string, unknown>> {
  try {
    return (await parseHcl(fileName, text)) as Record<string, unknown>;
  } catch (error) {
    throw hclParseError(fileName, String((error as Error)?.message ?? error));
  }
}

/**
 * hcl2json reports `parse config: [file:3,7-4,1: Summary; Detail.]`; the user gets the line
 * and the summary, and the file name they know.
 */
function hclParseError(fileName: string, message: string): TfvarsError {
  const match = /:(\d+),\d+(?:-\d+(?:,\d+)?)?: ([^;\]]+)/.exec(message);
  if (!match) return new TfvarsError(`does not parse: ${message.replace(/\s+/g, ' ')}`, fileName);
  return new TfvarsError(`does not parse: ${match[2].trim()}; bake left it untouched`, fileName, Number(match[1]));
}

export function parseJsonTfvars(fileName: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    // A byte order mark is legal in the file but not for JSON.parse.
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    const line = /line (\d+)/.exec(message);
    const at = line ? Number(line[1]) : position ? lineOf(text, Number(position[1])) : undefined;
    throw new TfvarsError(
      `does not parse as JSON: ${message.replace(/ in JSON at .*$/, '')}; bake left it untouched`,
      fileName,
      at,
    );
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new TfvarsError('a .tfvars.json file must hold one JSON object', fileName, 1);
  }
  return value as Record<string, unknown>;
}
