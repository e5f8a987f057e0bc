import { z } from 'zod';
import { parseDuration } from '../cli/duration.js';

/** The recipe file format. Also emitted as schema/recipe.schema.json for editors. */
const vars = z.record(z.string(), z.unknown());
// EC2 takes a deprecation time at most 10 years ahead (EnableImageDeprecation).
const deprecateAfterDays = z.number().int().positive().max(3650, 'at most 3650 days (EC2 deprecates at most 10 years ahead)');
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region name');

export const baseSchema = z.union([
  z.object({ ami: z.string().regex(/^ami-[0-9a-f]{8,17}$/, 'not an AMI id') }).strict(),
  z.object({ filter: z.object({ name: z.string().min(1), owners: z.array(z.string()).min(1) }).strict() }).strict(),
  z.object({ ssm: z.string().regex(/^\//, 'an SSM parameter name starts with /') }).strict(),
  z.object({ recipe: z.string().min(1) }).strict(),
], { error: 'exactly one of ami: ami-…, filter: {name, owners}, ssm: /parameter, recipe: name' });

/** SSM's rules for a parameter name bake writes (AWS reserves the aws and ssm prefixes). */
const ssmPinName = z
  .string()
  .regex(/^\/[A-Za-z0-9_.\-/]+$/, 'an SSM parameter name: /path/name, letters, digits and _.-/')
  .max(1011)
  .refine((name) => !/^\/(aws|ssm)/i.test(name), 'names starting with /aws or /ssm are reserved by AWS');

const checkSchema = z.union([
  z.object({ command: z.string().min(1) }).strict(),
  z.object({ file: z.string().startsWith('/'), contains: z.string().optional() }).strict(),
  z.object({ package: z.string().min(1) }).strict(),
  z.object({ service: z.string().min(1) }).strict(),
  z.object({ port: z.number().int().min(1).max(65535) }).strict(),
], { error: 'a check is exactly one of {command}, {file, contains?}, {package}, {service}, {port}' });

const cloudInitUseSchema = z.object({ template: z.string(), vars: vars.default({}) }).strict();

/** `launch_test:` boots the new image before it is tagged passed, copied, shared or pinned (docs/recipes.md). */
export const launchTestSchema = z.union(
  [
    // true: the default test, said out loud.
    z.boolean(),
    z
      .object({
        user_data: z.array(cloudInitUseSchema).default([]),
        checks: z.array(checkSchema).default([]),
        timeout: z
          .string()
          .refine((text) => (parseDuration(text) ?? 0) > 0, 'a duration such as 90s or 10m')
          .optional(),
        instance_type: z.string().min(1).optional(),
      })
      .strict(),
  ],
  { error: 'launch_test is true, false or {user_data?, checks?, timeout?, instance_type?}' },
);

export const recipeSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    description: z.string().default(''),
    base: baseSchema,
    regions: z.array(region).min(1).optional(),
    instance_type: z.string().optional(),
    ssh_username: z.string().optional(),
    roles: z.array(z.union([z.string().min(1), z.object({ name: z.string().min(1), vars: vars.default({}) }).strict()], { error: 'a role is a name or {name, vars}' })).default([]),
    cloud_init: z.array(cloudInitUseSchema).default([]),
    tags: z.record(z.string(), z.string()).default({}),
    pin: z
      .array(
        z.union(
          [
            z
              .object({
                file: z.string().min(1),
                variable: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'not a Terraform variable name'),
                key: z.string().optional(),
                format: z.enum(['map', 'string']).default('map'),
              })
              .strict(),
            z.object({ ssm: ssmPinName }).strict(),
          ],
          { error: 'a pin target is {file, variable, key?, format?} (tfvars) or {ssm: /parameter/name}' },
        ),
      )
      .default([]),
    subnet_id: z.string().optional(),
    volume_size: z.number().int().positive().optional(),
    encrypted: z.boolean().optional(),
    kms_key_ids: z.record(z.string(), z.string()).default({}),
    imdsv2: z.boolean().optional(),
    share_with: z.array(z.string().regex(/^(\d{12}|arn:aws:organizations::\d{12}:(organization|ou)\/.+)$/, 'an account id (12 digits) or an organization/OU ARN')).default([]),
    deprecate_after_days: deprecateAfterDays.optional(),
    verify: z.array(checkSchema).default([]),
    launch_test: launchTestSchema.optional(),
  })
  .strict();

export const configSchema = z
  .object({
    pin_roots: z.array(z.string().min(1)).default([]),
    regions: z.array(region).min(1).default(['us-east-1']),
    instance_type: z.string().default('t3.small'),
    ssh_username: z.string().default('admin'),
    tags: z.record(z.string(), z.string()).default({}),
    subnet_id: z.string().optional(),
    encrypted: z.boolean().default(true),
    imdsv2: z.boolean().default(true),
    deprecate_after_days: deprecateAfterDays.optional(),
  })
  .strict();

export type RecipeDocument = z.infer<typeof recipeSchema>;

export function recipeJsonSchema(): unknown {
  return z.toJSONSchema(recipeSchema, { io: 'input' });
}
