import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recipeJsonSchema } from '../../src/recipes/schema.js';

const repo = path.resolve(__dirname, '../..');

describe('the recipe JSON Schema', () => {
  it('is committed in step with the schema bake validates with (regenerate: npm run schema)', async () => {
    const committed = JSON.parse(await readFile(path.join(repo, 'schema/recipe.schema.json'), 'utf8'));
    expect(committed).toEqual(recipeJsonSchema());
  });

  it('tells editors about every recipe key and that no other key is allowed', () => {
    const schema = recipeJsonSchema() as { properties: Record<string, unknown>; additionalProperties: boolean; required: string[] };
    expect(Object.keys(schema.properties).sort()).toEqual(
      [
        'name', 'description', 'base', 'regions', 'instance_type', 'ssh_username', 'roles', 'cloud_init', 'tags', 'pin', 'subnet_id',
        'volume_size', 'encrypted', 'kms_key_ids', 'imdsv2', 'share_with', 'deprecate_after_days', 'verify', 'launch_test', 'ansible_env',
        'secrets', 'boot',
        // Security freshness (issue 24).
        'upgrade', 'rebuild_on',
        // Architectures (issue 28).
        'architectures', 'instance_types',
        // Local instances (issue 27).
        'local',
      ].sort(),
    );
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required.sort()).toEqual(['base', 'name']);
  });
});
