import { z } from 'zod';
import { parseDuration } from './duration.js';
import { ARCHITECTURES } from '../tags/architecture.js';

/** The recipe file format. Also emitted as schema/recipe.schema.json for editors. */
const vars = z.record(z.string(), z.unknown());
// EC2 takes a deprecation time at most 10 years ahead (EnableImageDeprecation).
const deprecateAfterDays = z.number().int().positive().max(3650, 'at most 3650 days (EC2 deprecates at most 10 years ahead)');
// Formats EC2 and Packer accept; none of them admits `{{`, which Packer would evaluate.
const instanceType = z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/, 'not an EC2 instance type (family.size, e.g. t3.small)');
const sshUsername = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, 'not a login name (letters, digits, _ . -; at most 32)');
const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'not a subnet id (subnet-…)');
const KMS_KEY = '(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})';
const kmsKeyId = z
  .string()
  .regex(
    new RegExp(`^(?:${KMS_KEY}|alias/[A-Za-z0-9/_-]{1,250}|arn:aws[a-z-]*:kms:[a-z]{2}(?:-[a-z]+)+-\\d:\\d{12}:(?:key/${KMS_KEY}|alias/[A-Za-z0-9/_-]{1,250}))$`),
    'not a KMS key (key id, mrk- id, alias/name, or a key or alias ARN)',
  );
// Environment names end up in tag keys (bake:pinned:<env>): EC2 key characters, kept short.
const environmentName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'an environment name: lower-case letters, digits and dashes, at most 32');
const promotionSchema = z
  .object({
    soak: z
      .string()
      .refine((text) => parseDuration(text) !== undefined, 'a duration such as 24h or 3d (0: none)')
      .optional(),
    approval: z.boolean().default(false),
  })
  .strict();
// Architectures (docs/recipes.md, "Architectures"): the plain key (instance_type, base ami/ssm, pin
// variable/ssm) is the x86_64 one, or the only architecture's; the `arch_…` maps name the others.
const architecture = z.enum(ARCHITECTURES, { error: `an architecture is ${ARCHITECTURES.join(' or ')}` });
const architectures = z.array(architecture).min(1);
const instanceTypes = z.partialRecord(architecture, instanceType);
const amiId = z.string().regex(/^ami-[0-9a-f]{8,17}$/, 'not an AMI id');
const ssmParameter = z.string().regex(/^\/[A-Za-z0-9_.\-/]{1,2047}$/, 'an SSM parameter name starts with / (letters, digits, _ . - /)');
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region name');

export const baseSchema = z.union([
  z.object({ ami: amiId, arch_amis: z.partialRecord(architecture, amiId).optional() }).strict(),
  z.object({
    filter: z
      .object({
        // AMI names allow only these characters; * and ? are the filter's wildcards.
        name: z.string().regex(/^[A-Za-z0-9()[\] ./'@_*?-]{1,128}$/, "not an AMI name pattern (letters, digits, ( ) [ ] space . / ' @ _ - and the wildcards * ?)"),
        owners: z.array(z.string().regex(/^(\d{12}|self|amazon|aws-marketplace|aws-backup-vault)$/, 'an owner is an account id (12 digits), self, amazon or aws-marketplace')).min(1),
      })
      .strict(),
  }).strict(),
  z.object({ ssm: ssmParameter, arch_ssm: z.partialRecord(architecture, ssmParameter).optional() }).strict(),
  z.object({ recipe: z.string().min(1) }).strict(),
], { error: 'exactly one of ami: ami-…, filter: {name, owners}, ssm: /parameter, recipe: name' });

/** SSM's rules for a parameter name bake writes (AWS reserves the aws and ssm prefixes). */
const terraformVariable = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'not a Terraform variable name');
const ssmPinName = z
  .string()
  .regex(/^\/[A-Za-z0-9_.\-/]+$/, 'an SSM parameter name: /path/name, letters, digits and _.-/')
  .max(1011)
  .refine((name) => !/^\/(aws|ssm)/i.test(name), 'names starting with /aws or /ssm are reserved by AWS');

/** Role names become folder names (roles/<name>, and in the image for boot roles): no `/`, no `..`. */
export const ROLE_NAME = /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const roleName = z.string().regex(ROLE_NAME, 'a role name is letters, digits, "_", "-" and "." (no "/" nor "..")');
const roleUses = z.array(z.union([roleName, z.object({ name: roleName, vars: vars.default({}) }).strict()], { error: 'a role is a name or {name, vars}' }));

/** An Ansible variable name: what a secret is called inside the roles. */
const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const secretSchema = z.union([
  z.object({ env: z.string().regex(variableName, 'not an environment variable name') }).strict(),
  z.object({ ssm: z.string().regex(/^\//, 'an SSM parameter name starts with /') }).strict(),
], { error: 'a secret is {env: VARIABLE} or {ssm: /parameter}' });

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

/** Which pending updates the build applies before the roles run (src/packer/): the security suite's, all, or none. */
const upgradeSchema = z.enum(['security', 'all', 'none'], { error: 'upgrade is security, all or none' });
/** Why plan rebuilds a recipe besides a change of its inputs: `security`, its image's latest scan found pending fixes. */
const rebuildOnSchema = z.array(z.enum(['security'], { error: 'rebuild_on lists reasons: security' }));

/** What a local instance of the recipe is (`bake build --local`, `bake verify --local`): docs/local-cloud.md. */
const localSchema = z
  .object({ machine: z.enum(['container', 'vm'], { error: 'local.machine is container or vm' }).optional() })
  .strict();

export const recipeSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    description: z.string().default(''),
    base: baseSchema,
    regions: z.array(region).min(1).optional(),
    instance_type: instanceType.optional(),
    // Architectures (issue 28): one image per architecture, each with its instance type.
    architectures: architectures.optional(),
    instance_types: instanceTypes.optional(),
    ssh_username: sshUsername.optional(),
    roles: roleUses.default([]),
    cloud_init: z.array(cloudInitUseSchema).default([]),
    tags: z.record(z.string(), z.string()).default({}),
    pin: z
      .array(
        z.union(
          [
            z
              .object({
                file: z.string().min(1),
                variable: terraformVariable,
                arch_variables: z.partialRecord(architecture, terraformVariable).optional(),
                key: z.string().optional(),
                format: z.enum(['map', 'string']).default('map'),
                environment: environmentName.optional(),
              })
              .strict(),
            z.object({ ssm: ssmPinName, arch_ssm: z.partialRecord(architecture, ssmPinName).optional(), environment: environmentName.optional() }).strict(),
          ],
          { error: 'a pin target is {file, variable, arch_variables?, key?, format?, environment?} (tfvars) or {ssm: /parameter/name, arch_ssm?, environment?}' },
        ),
      )
      .default([]),
    subnet_id: subnetId.optional(),
    volume_size: z.number().int().positive().max(16384, 'at most 16384 GiB (EBS gp3)').optional(),
    encrypted: z.boolean().optional(),
    kms_key_ids: z.record(region, kmsKeyId).default({}),
    imdsv2: z.boolean().optional(),
    share_with: z
      .array(
        z
          .string()
          .regex(
            /^(\d{12}|arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}|arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$/,
            'an account id (12 digits), an organization ARN (arn:aws:organizations::<account>:organization/o-…) or an OU ARN (…:ou/o-…/ou-…-…)',
          ),
      )
      .default([]),
    deprecate_after_days: deprecateAfterDays.optional(),
    verify: z.array(checkSchema).default([]),
    launch_test: launchTestSchema.optional(),
    ansible_env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')).default([]),
    /** Build-time only: each an Ansible variable for the roles, never written anywhere. */
    secrets: z.record(z.string().regex(variableName, 'a secret name is an Ansible variable name (letters, digits, _)'), secretSchema).default({}),
    /** Roles baked into the image and re-run at first boot by cloud-init. */
    boot: z.object({ roles: roleUses.min(1), vars_from_user_data: z.boolean().default(false) }).strict().optional(),
    // Security freshness (issue 24).
    upgrade: upgradeSchema.optional(),
    rebuild_on: rebuildOnSchema.optional(),
    // Local instances (issue 27): a VM with its own kernel instead of a container.
    local: localSchema.optional(),
  })
  .strict();

export const configSchema = z
  .object({
    bakery: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/, 'a bakery name: letters, digits and . _ - /, at most 128').optional(),
    pin_roots: z.array(z.string().min(1)).default([]),
    regions: z.array(region).min(1).default(['us-east-1']),
    instance_type: instanceType.default('t3.small'),
    // Architectures (issue 28): what recipes that name none build, and their instance types.
    architectures: architectures.default(['x86_64']),
    instance_types: instanceTypes.default({}),
    ssh_username: sshUsername.default('admin'),
    tags: z.record(z.string(), z.string()).default({}),
    subnet_id: subnetId.optional(),
    encrypted: z.boolean().default(true),
    imdsv2: z.boolean().default(true),
    deprecate_after_days: deprecateAfterDays.optional(),
    // Security freshness (issue 24): the recipes' default `upgrade` and `rebuild_on`, and when a scan is too old to plan from.
    upgrade: upgradeSchema.optional(),
    rebuild_on: rebuildOnSchema.optional(),
    scan_max_age: z.string().refine((text) => parseDuration(text) !== undefined, 'a duration such as 7d, 36h or 2w').optional(),
    // Environments (docs/lifecycle.md): pins go to the first on build, to the others by promotion.
    environments: z.array(environmentName).min(1).optional(),
    promotion: z.record(environmentName, promotionSchema).default({}),
    // Local instances (issue 27): the recipes' default local machine.
    local: localSchema.optional(),
  })
  .strict();

export type RecipeDocument = z.infer<typeof recipeSchema>;

export function recipeJsonSchema(): unknown {
  return z.toJSONSchema(recipeSchema, { io: 'input' });
}
