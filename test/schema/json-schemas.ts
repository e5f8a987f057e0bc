/**
 * The JSON Schemas of every `--json` document (schema/<command>.schema.json), as the tests check
 * real command output against them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

export const JSON_COMMANDS = [
  'validate', 'render', 'plan', 'build', 'pin', 'prune', 'verify', 'images', 'local-cloud', 'graph', 'init', 'scan', 'iam-policy', 'doctor', 'promote', 'rollback', 'revoke',
] as const;
export type JsonCommand = (typeof JSON_COMMANDS)[number];

export function schemaFile(command: JsonCommand): string {
  return path.join(SCHEMA_DIR, `${command}.schema.json`);
}

export function readSchema(command: JsonCommand): Record<string, unknown> {
  return JSON.parse(readFileSync(schemaFile(command), 'utf8')) as Record<string, unknown>;
}

export function outputSchemaFiles(): string[] {
  return readdirSync(SCHEMA_DIR).filter((file) => file.endsWith('.schema.json') && file !== 'recipe.schema.json').sort();
}

const ajv = new Ajv2020({ strict: true, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validators = new Map<JsonCommand, ReturnType<Ajv2020['compile']>>();

/** Throws, naming every mismatch, unless `document` is what schema/<command>.schema.json describes. */
export function assertMatchesSchema(command: JsonCommand, document: unknown): void {
  let validate = validators.get(command);
  if (!validate) validators.set(command, (validate = ajv.compile(readSchema(command))));
  if (!validate(document)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? `: ${String(e.params.additionalProperty)}` : ''}`);
    throw new Error(`bake ${command} --json does not match schema/${command}.schema.json:\n  ${problems.join('\n  ')}`);
  }
}

/** The `--json` document a command printed, parsed and checked against its schema. */
export function parseJsonOutput<T = any>(command: JsonCommand, stdout: string): T {
  const document = JSON.parse(stdout) as unknown;
  assertMatchesSchema(command, document);
  return document as T;
}
