/**
 * Recipe → Packer HCL2 template text. Pure: the same recipe, shape and target always give the
 * same text. Decides what goes in the template; the HCL itself is written by
 * templates/packer/recipe.pkr.hcl.hbs through the escaping helpers.
 */
import path from 'node:path';
import type { Bakery, Recipe } from '../recipes/model.js';
import { BakeError, RecipeError, type SourceLocation } from '../errors/index.js';
import { GENERATOR_VERSION } from './generator-version.js';
import type { PackerShape, PackerTarget } from './target.js';
import { PACKER_VARIABLE_NAMES, type PackerVariables } from './variables.js';
import { renderTemplateFile } from './template-engine.js';
import { sharePrincipals } from '../recipes/share-principals.js';

/** A recipe setting the chosen Packer shape cannot express; `bake build` applies it through EC2 after Packer. */
export interface ShapeGap {
  setting: 'imdsv2';
  detail: string;
}

export interface PackerTemplate {
  text: string;
  /**
   * `filter`: Packer looks the base image up itself (source_ami_filter) unless var.source_ami
   * is given a non-empty value; `variable`: always var.source_ami.
   */
  sourceAmi: 'filter' | 'variable';
  gaps: ShapeGap[];
}

export interface TemplateInput {
  bakery: Bakery;
  recipe: Recipe;
  shape: PackerShape;
  target?: PackerTarget;
  /** Written as the variables' defaults. */
  defaults: Required<PackerVariables>;
}

// EC2: AMI names are 3–128 characters of letters, digits and ( ) [ ] space . / - ' @ _
const AMI_NAME_UNSAFE = /[^A-Za-z0-9()[\] ./'@_-]/g;
// The name is <prefix>-<12 fingerprint chars>-<14 digit time>: the prefix gets what is left of 128.
const AMI_NAME_PREFIX_MAX = 128 - 1 - 12 - 1 - 14;

/**
 * Runs verify.sh and capture-cleanup.sh as root whether or not the SSH user already is (a recipe may log in as root,
 * where there may be no sudo). Packer fills in {{ .Path }} and {{ .Vars }}; no recipe data here.
 */
const VERIFY_EXECUTE_COMMAND =
  'chmod +x {{ .Path }}; if [ "$(id -u)" -eq 0 ]; then {{ .Vars }} {{ .Path }}; else sudo -n env {{ .Vars }} {{ .Path }}; fi';

export interface Polling {
  delaySeconds: number;
  maxAttempts: number;
}

/**
 * AWS: a bake waits five times (running, status checks, stopped, image available, terminated),
 * each wait overshooting by half a poll on average: 2 s polls lose ~5 s per bake where the SDK
 * waiters' 15 s lose ~40 s, on every bake of a chain. 8 bakes at once then ask ~4 times a second,
 * a fifth of EC2's steady rate for describe calls (20/s); 1,800 attempts (an hour) cover a large
 * volume's image, which the SDK's default 40 × 15 s gives up on.
 */
export const AWS_POLLING: Polling = { delaySeconds: 2, maxAttempts: 1800 };
/** The local cloud answers in about the time the work takes: poll every second (Packer's smallest), for up to an hour under load. */
export const LOCAL_CLOUD_POLLING: Polling = { delaySeconds: 1, maxAttempts: 3600 };

/**
 * The builder's root volume: resized when the recipe says `volume_size`, encrypted from launch
 * when it says `encrypted` (the image's snapshots then carry the build region's key).
 */
function rootVolumeOf(recipe: Recipe, region: string) {
  const sizeGb =
    recipe.volumeSizeGb === undefined
      ? null
      : positiveWhole(recipe.volumeSizeGb, 'volume_size', locationOf(recipe, 'volume_size'));
  const encryption = recipe.encrypted ? { kmsKeyId: recipe.kmsKeyIds[region] ?? null } : null;
  return sizeGb === null && encryption === null ? null : { sizeGb, encryption };
}

export function amiNamePrefix(recipeName: string): string {
  return recipeName.replace(AMI_NAME_UNSAFE, '-').slice(0, AMI_NAME_PREFIX_MAX);
}

/** Where Ansible finds roles: the bakery's roles/ first, then wherever galaxy roles were installed. */
export function ansibleRolesPath(bakery: Bakery): string[] {
  const local = path.join(bakery.root, 'roles');
  const others = [...bakery.roles.values()].map((role) => path.dirname(role.dir)).filter((dir) => dir !== local);
  const dirs = [local, ...[...new Set(others)].sort()];
  const unusable = dirs.find((dir) => dir.includes(':'));
  // ANSIBLE_ROLES_PATH is colon-separated: such a folder would silently become two.
  if (unusable)
    throw new BakeError(`role folder ${unusable} contains ":", which ANSIBLE_ROLES_PATH cannot hold; move the bakery`);
  const templated = dirs.find((dir) => dir.includes('{{'));
  if (templated)
    throw new BakeError(
      `role folder ${templated} contains "{{", which Packer's template engine would evaluate; move the bakery`,
    );
  return dirs;
}

/** Where Ansible finds the collections bake installed (src/roles/galaxy-install.ts); empty without collections/requirements.yml. */
export function ansibleCollectionsPath(bakery: Bakery): string[] {
  const dirs = (bakery.collections ?? []).flatMap((collection) => (collection.dir ? [collection.dir] : []));
  const unusable = dirs.find((dir) => dir.includes(':'));
  if (unusable)
    throw new BakeError(
      `collection folder ${unusable} contains ":", which ANSIBLE_COLLECTIONS_PATH cannot hold; set BAKE_GALAXY_CACHE elsewhere`,
    );
  return dirs;
}

function locationOf(recipe: Recipe, key: string): SourceLocation {
  return recipe.locations[key] ?? { file: recipe.file, line: 1, col: 1 };
}

function positiveWhole(value: number, what: string, location: SourceLocation): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RecipeError(`${what} must be a whole number above 0, got ${value}`, location);
  return value;
}

/** bake's settings for Packer's Ansible run (ansible_env_vars): names and values. */
export function ansibleSettings(bakery: Bakery, recipe: Recipe): Array<[string, string]> {
  const collectionsPath = ansibleCollectionsPath(bakery);
  return [
    ['ANSIBLE_HOST_KEY_CHECKING', 'False'],
    ['ANSIBLE_ROLES_PATH', ansibleRolesPath(bakery).join(':')],
    ['ANSIBLE_NOCOLOR', 'True'],
    // Every module would log its arguments on the instance ("Invoked with …"), into the image's
    // journal: a secret a role passes to `command` or `shell` among them.
    ['ANSIBLE_NO_TARGET_SYSLOG', 'True'],
    ...(collectionsPath.length ? [['ANSIBLE_COLLECTIONS_PATH', collectionsPath.join(':')] as [string, string]] : []),
    // With secrets, module arguments (which may hold them) travel over SSH's stdin instead of
    // being written as files on the instance.
    ...(recipe.secrets?.length ? [['ANSIBLE_PIPELINING', 'True'] as [string, string]] : []),
  ];
}

export function renderPackerTemplate(input: TemplateInput): PackerTemplate {
  const { bakery, recipe, shape, target, defaults } = input;
  const modern = shape === 'modern';
  const gaps: ShapeGap[] = [];
  // Packer bakes in the build region only: copies to the other regions, KMS re-encryption there,
  // sharing and deprecation are bake's own distribution step (src/lifecycle/distribute.ts).
  const [region] = recipe.regions;
  if (!region) throw new RecipeError(`recipe ${recipe.name} names no region`, locationOf(recipe, 'regions'));
  // Checked here too, so that `bake render` refuses a bad entry offline.
  sharePrincipals(recipe);
  if (!modern && recipe.imdsv2) {
    gaps.push({
      setting: 'imdsv2',
      detail:
        'Packer 1.6.6 cannot mark the AMI IMDSv2-only; bake build sets ImdsSupport=v2.0 on the image after Packer',
    });
  }

  const filter = recipe.base.kind === 'filter' ? recipe.base : undefined;
  const hasSecrets = Boolean(recipe.secrets?.length);

  const view = {
    generatorVersion: GENERATOR_VERSION,
    shapeLabel: modern ? '>= 1.7 with plugins' : '1.6 (built-in builders)',
    modern,
    // secrets_file only where it is used, so other recipes' templates stay as they were.
    variables: PACKER_VARIABLE_NAMES.filter((name) => name !== 'secrets_file' || hasSecrets).map((name) => ({
      name,
      value: defaults[name],
    })),
    secrets: hasSecrets,
    // The (recipe, architecture) pair names the AMI (web.arm64-…); bake:recipe is the recipe's own name.
    amiNamePrefix: amiNamePrefix(recipe.name),
    recipeName: recipe.recipeName ?? recipe.name,
    // Only for recipes that name architectures: the others' templates stay byte for byte as they were.
    architecture: recipe.architecture ?? null,
    bakery: bakery.config.bakery,
    builderName: `bake-builder-${recipe.name}`,
    fromParent: recipe.base.kind === 'recipe',
    region,
    sourceAmiFilter: filter
      ? {
          filters: {
            name: filter.name,
            'virtualization-type': 'hvm',
            'root-device-type': 'ebs',
            ...(filter.architecture && { architecture: filter.architecture }),
          },
          owners: filter.owners,
        }
      : null,
    instanceType: recipe.instanceType,
    // Local images have Debian's AMI user (admin) too: the same login as on EC2.
    sshUsername: recipe.sshUsername,
    subnetId: recipe.subnetId ?? null,
    ec2Endpoint: target?.ec2Endpoint ?? null,
    local: target?.local
      ? {
          sshPort: positiveWhole(target.local.sshPort, 'the local ssh port', locationOf(recipe, 'name')),
        }
      : null,
    // The builder asks the local cloud for a VM (LOCAL_MACHINE_TAG): only in local templates, only for VM recipes.
    localVm: Boolean(target?.local) && recipe.localMachine === 'vm',
    imdsv2: modern && recipe.imdsv2,
    rootVolume: rootVolumeOf(recipe, region),
    polling: target?.local ? LOCAL_CLOUD_POLLING : AWS_POLLING,
    ansibleEnvVars: ansibleSettings(bakery, recipe).map(([name, value]) => `${name}=${value}`),
    verifyExecuteCommand: VERIFY_EXECUTE_COMMAND,
  };
  return { text: renderTemplateFile('recipe.pkr.hcl.hbs', view), sourceAmi: filter ? 'filter' : 'variable', gaps };
}
