import { TfvarsError } from '../errors/index.js';
import { isVariableName } from './hcl-literal.js';

/**
 * One value bake owns in a tfvars file. `key` set: the entry `key` of the map `variable`
 * (a whole region map is one PinEdit per region). `key` unset: `variable` is a plain string.
 */
export interface PinEdit {
  variable: string;
  key?: string;
  value: string;
}

/** The edits of one variable, merged: either the whole string or some entries of a map. */
export type VariableEdit =
  | { variable: string; kind: 'string'; value: string }
  | { variable: string; kind: 'map'; entries: Array<[key: string, value: string]> };

/**
 * Merges edits per variable in first-seen order. Two recipes may pin into one file, but never
 * two different values into the same place, and never a string and a map into one variable.
 */
export function groupEdits(file: string, edits: PinEdit[]): VariableEdit[] {
  const byVariable = new Map<string, VariableEdit>();
  for (const edit of edits) {
    if (!isVariableName(edit.variable)) {
      throw new TfvarsError(`"${edit.variable}" is not a valid Terraform variable name`, file);
    }
    const seen = byVariable.get(edit.variable);
    if (edit.key === undefined) {
      if (!seen) byVariable.set(edit.variable, { variable: edit.variable, kind: 'string', value: edit.value });
      else if (seen.kind === 'map') throw mixed(file, edit.variable);
      else if (seen.value !== edit.value) throw clash(file, edit.variable, seen.value, edit.value);
      continue;
    }
    if (!seen) {
      byVariable.set(edit.variable, { variable: edit.variable, kind: 'map', entries: [[edit.key, edit.value]] });
    } else if (seen.kind === 'string') {
      throw mixed(file, edit.variable);
    } else {
      const entry = seen.entries.find(([key]) => key === edit.key);
      if (!entry) seen.entries.push([edit.key, edit.value]);
      else if (entry[1] !== edit.value) throw clash(file, `${edit.variable}["${edit.key}"]`, entry[1], edit.value);
    }
  }
  return [...byVariable.values()];
}

function mixed(file: string, variable: string): TfvarsError {
  return new TfvarsError(`pin targets write ${variable} both as a plain string and as a map`, file);
}

function clash(file: string, place: string, a: string, b: string): TfvarsError {
  return new TfvarsError(`two pin targets write different values into ${place} (${a} and ${b})`, file);
}

/** The value a tfvars file should hold after the edits, as a parser reports it. */
export function applyToParsed(
  parsed: Record<string, unknown>,
  variables: VariableEdit[],
  asParsed: (value: string) => string,
): Record<string, unknown> {
  const expected: Record<string, unknown> = structuredClone(parsed);
  for (const edit of variables) {
    if (edit.kind === 'string') {
      expected[edit.variable] = asParsed(edit.value);
    } else {
      const current = expected[edit.variable];
      const map: Record<string, unknown> =
        current && typeof current === 'object' && !Array.isArray(current) ? (current as Record<string, unknown>) : {};
      for (const [key, value] of edit.entries) map[asParsed(key)] = asParsed(value);
      expected[edit.variable] = map;
    }
  }
  return expected;
}
