import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { assertMatchesSchema, JSON_COMMANDS, outputSchemaFiles, readSchema } from './json-schemas.js';

const BAKE = new URL('../../bin/bake.js', import.meta.url).pathname;
const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** Every object schema inside `node`, with its JSON pointer. */
function objectSchemas(node: unknown, where = '#'): Array<{ where: string; schema: Record<string, unknown> }> {
  if (!node || typeof node !== 'object') return [];
  if (Array.isArray(node)) return node.flatMap((item, i) => objectSchemas(item, `${where}/${i}`));
  const schema = node as Record<string, unknown>;
  const own = schema.properties ? [{ where, schema }] : [];
  return [
    ...own,
    ...Object.entries(schema).flatMap(([key, value]) =>
      key === 'properties'
        ? Object.entries(value as Record<string, unknown>).flatMap(([name, sub]) => objectSchemas(sub, `${where}/properties/${name}`))
        : objectSchemas(value, `${where}/${key}`),
    ),
  ];
}

describe('the --json schemas under schema/', () => {
  it('describe every command that takes --json, one file each', async () => {
    const help = (await execa('node', [BAKE, '--help'])).stdout;
    const commands = [...help.matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]).filter((name) => name !== 'help');
    const helps = await Promise.all(commands.map(async (command) => ({ command, help: (await execa('node', [BAKE, command, '--help'])).stdout })));
    const withJson = helps.filter(({ help }) => help.includes('--json')).map(({ command }) => command);
    expect(withJson.sort()).toEqual([...JSON_COMMANDS].sort());
    expect(outputSchemaFiles()).toEqual(JSON_COMMANDS.map((command) => `${command}.schema.json`).sort());
  });

  it('name every key in snake_case and allow no key they do not name', () => {
    for (const command of JSON_COMMANDS) {
      for (const { where, schema } of objectSchemas(readSchema(command))) {
        for (const key of Object.keys(schema.properties as object)) expect(key, `${command} ${where}`).toMatch(SNAKE_CASE);
        expect(schema.additionalProperties, `${command} ${where}`).toBe(false);
      }
    }
  });

  it('refuse a camelCase key, as a document from before the convention had', () => {
    const plan = { recipes: [{ name: 'web', arch: 'x86_64', action: 'build', reasons: [], fingerprint: 'ab12', amis: {}, inputs: '', base_ami: 'ami-0123456789abcdef0', build_region: 'us-east-1', missing_regions: [] }] };
    expect(() => assertMatchesSchema('plan', plan)).not.toThrow();
    const old = { recipes: [{ ...plan.recipes[0], buildRegion: 'us-east-1' }] };
    expect(() => assertMatchesSchema('plan', old)).toThrow(/additional properties: buildRegion/);
  });
});
