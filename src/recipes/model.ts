/**
 * The resolved, validated shape of a bakery. Loading (src/recipes/load-*.ts) turns YAML into
 * these; everything downstream (render, fingerprint, plan, build, pin) reads only these types.
 */
import type { SourceLocation } from '../errors/index.js';
import type { BakeryNameSource } from './bakery-name.js';
import type { Architecture } from '../tags/architecture.js';

/**
 * `architecture` is set only for recipes that declare `architectures:` (src/recipes/architectures.ts):
 * a filter then matches that architecture only and an AMI id is checked to be of it. Recipes
 * that say nothing keep the base they had, and with it their fingerprints and templates.
 */
export type BaseImage =
  | { kind: 'ami'; ami: string; architecture?: Architecture }
  /** Most recent image matching the name pattern among the owners. */
  | { kind: 'filter'; name: string; owners: string[]; architecture?: Architecture }
  /** An SSM parameter holding an AMI id, e.g. /aws/service/debian/release/12/latest/amd64. */
  | { kind: 'ssm'; parameter: string }
  /** Built FROM another recipe of this bakery. */
  | { kind: 'recipe'; recipe: string };

export interface RoleUse {
  name: string;
  vars: Record<string, unknown>;
  location: SourceLocation;
}

export interface CloudInitUse {
  /** Path relative to the bakery's cloud-init/ folder, e.g. `web.yaml.hbs`. */
  template: string;
  vars: Record<string, unknown>;
  location: SourceLocation;
}

export interface PinTarget {
  /** Absolute path of the tfvars file. */
  file: string;
  /** As written in the recipe (relative to the recipe file), for messages. */
  fileAsWritten: string;
  variable: string;
  /**
   * Set: write one entry `key = ami` of a shared map (single region recipes, or `key` names
   * the entry and the recipe's first region is written). Unset: the variable is a map
   * region → AMI id, or, when `format: string`, a plain string with the first region's AMI.
   */
  key?: string;
  format: 'map' | 'string';
  /** The environment this target belongs to (`environment:`, else the bakery's first); unset: the bakery declares none. */
  environment?: string;
  location: SourceLocation;
}

/** `pin: - ssm: /images/web/ami`: an SSM parameter (data type aws:ec2:image) in each of the recipe's regions, holding that region's AMI. */
export interface SsmPinTarget {
  parameter: string;
  /** As for tfvars targets. */
  environment?: string;
  location: SourceLocation;
}

/** A smoke test run after provisioning (bake verify, and at the end of bake build). */
export type VerifyCheck =
  | { kind: 'command'; command: string; location: SourceLocation }
  | { kind: 'file'; path: string; contains?: string; location: SourceLocation }
  | { kind: 'package'; name: string; location: SourceLocation }
  | { kind: 'service'; name: string; location: SourceLocation }
  | { kind: 'port'; port: number; location: SourceLocation };

/** How long a launch test may take, from RunInstances to the last check, unless the recipe says. */
export const DEFAULT_LAUNCH_TEST_TIMEOUT_MS = 10 * 60_000;

/**
 * `launch_test:`: after Packer, boot the new image with this user-data and run the recipe's
 * verify checks plus these on the booted machine (src/launch-test/).
 */
export interface LaunchTestSpec {
  /** false: `launch_test: false`, the recipe opts out (plan and build say so). */
  enabled: boolean;
  /** cloud-init templates under cloud-init/, rendered and passed as RunInstances UserData. */
  userData: CloudInitUse[];
  /** Checks that only make sense on a booted machine, run after the recipe's verify checks. */
  checks: VerifyCheck[];
  timeoutMs: number;
  /** Default: the recipe's instance_type. */
  instanceType?: string;
  location: SourceLocation;
}

/** Where a build-time secret's value comes from: the environment bake runs in, or an SSM SecureString in the build region. */
export type SecretSource = { kind: 'env'; variable: string } | { kind: 'ssm'; parameter: string };

/** A build-time secret: an Ansible variable `name` for the roles; its value is never written anywhere. */
export interface Secret {
  name: string;
  source: SecretSource;
  location: SourceLocation;
}

/** Roles baked into the image with a playbook that cloud-init runs at first boot. */
export interface BootRoles {
  roles: RoleUse[];
  /** The instance's variables come from the `bake_vars` key of its cloud-config user-data. */
  varsFromUserData: boolean;
  location: SourceLocation;
}

/**
 * One image's worth of recipe: a recipe file builds one per architecture it names
 * (src/recipes/architectures.ts), and everything downstream works on these.
 */
export interface Recipe {
  /**
   * The recipe's name for its x86_64 image (and for recipes that name no architectures), else
   * `<recipe>.<arch>` (recipeKey in src/tags/architecture.ts): what plans, builds and the graph key by.
   */
  name: string;
  /** The name written in the recipe file, when `name` is an architecture's key; absent: `name`. */
  recipeName?: string;
  /** Absent: the recipe (and the config) name no `architectures:`, x86_64 as before. */
  architecture?: Architecture;
  description: string;
  /** Absolute path of the recipe file. */
  file: string;
  base: BaseImage;
  /** The first region is where Packer builds; the others receive copies. */
  regions: string[];
  instanceType: string;
  sshUsername: string;
  roles: RoleUse[];
  cloudInit: CloudInitUse[];
  tags: Record<string, string>;
  /** tfvars targets (this architecture's variables: src/recipes/architectures.ts). */
  pin: PinTarget[];
  ssmPins: SsmPinTarget[];
  subnetId?: string;
  volumeSizeGb?: number;
  encrypted: boolean;
  /** KMS key per region (alias or ARN); empty = the account's default EBS key. */
  kmsKeyIds: Record<string, string>;
  imdsv2: boolean;
  shareWith: string[];
  /** Days after build when the AMI gets a deprecation time; undefined = never. */
  deprecateAfterDays?: number;
  verify: VerifyCheck[];
  /** Absent (recipes made in code): no launch test. The loader always sets it. */
  launchTest?: LaunchTestSpec;
  /** Variables of the agent's environment Ansible may see besides the basic ones (`ansible_env`). */
  ansibleEnv: string[];
  /** Absent or empty: none. */
  secrets?: Secret[];
  boot?: BootRoles;
  /** Where each top-level key was written, for error messages (`roles`, `base`, …). */
  locations: Record<string, SourceLocation>;
  /**
   * `upgrade:` (recipe, else config): the pending updates the build applies before the roles run.
   * Absent for `none`, so recipes without it keep their fingerprints and templates.
   */
  upgrade?: 'security' | 'all';
  /** `rebuild_on:` (recipe, else config): `security` rebuilds when the image's latest scan found pending fixes. Not part of the fingerprint. */
  rebuildOn?: Array<'security'>;
  /**
   * `local: {machine: vm}` (recipe, else config): local instances of the recipe are VMs with their
   * own kernel (docs/local-cloud.md). Absent for a container, so other recipes keep their templates.
   */
  localMachine?: 'vm';
}

export interface BakeryConfig {
  regions: string[];
  instanceType: string;
  /** `instance_types:` defaults per architecture (the recipe's own win). */
  instanceTypes?: Partial<Record<Architecture, string>>;
  /** `architectures:`: what a recipe that names none builds. Default [x86_64]. */
  architectures?: Architecture[];
  sshUsername: string;
  tags: Record<string, string>;
  subnetId?: string;
  encrypted: boolean;
  imdsv2: boolean;
  deprecateAfterDays?: number;
  /** Absolute folders outside the bakery root that pin targets may resolve into (`pin_roots:`). */
  pinRoots: string[];
  /** Which bakery this is (`bakery:`, else derived): the bake:bakery tag. See src/recipes/bakery-name.ts. */
  bakery: string;
  bakerySource: BakeryNameSource;
  /** Without `bakery:`, the name older bake versions derived (the remote's last path part): read, never pruned. */
  bakeryLegacyName?: string;
  /** `scan_max_age:` a scan older than this is not planned from (the plan says so); absent: DEFAULT_SCAN_MAX_AGE_MS. */
  scanMaxAgeMs?: number;
  /** `upgrade:` and `rebuild_on:` for recipes that do not say. */
  upgrade?: 'security' | 'all' | 'none';
  rebuildOn?: Array<'security'>;
  /** `local: {machine}` for recipes that do not say. */
  localMachine?: 'container' | 'vm';
  /** `environments:` in promotion order; empty: none declared (every pin target is pinned on build). */
  environments: string[];
  /** `promotion:` gates per environment; an environment not named has none. */
  promotion: Record<string, PromotionGates>;
}

/** What an image must show before `bake promote` pins it into an environment. */
export interface PromotionGates {
  /** How long it must have been pinned in the previous environment (ms). */
  soakMs: number;
  /** An approver must be named (`--approved-by`). */
  approval: boolean;
}

/** A scan older than this (a week) is not planned from unless the config says otherwise. */
export const DEFAULT_SCAN_MAX_AGE_MS = 7 * 86_400_000;

export interface Role {
  name: string;
  /** Absolute directory of the role (roles/<name>, or galaxy-installed). */
  dir: string;
  /** Role names from meta/main.yml `dependencies`, in order. */
  dependencies: string[];
  /** `local` = under roles/; `galaxy` = declared in roles/requirements.yml with a pinned version. */
  source: 'local' | 'galaxy';
  /** For galaxy roles: the pinned version (the fingerprint uses it instead of files). */
  version?: string;
  /** For galaxy roles: `src` from requirements.yml. */
  src?: string;
  /** For galaxy roles: `scm` from requirements.yml (`git` for a git source without the `git+` prefix). */
  scm?: string;
  /** For galaxy roles from git: the commit the version resolved to when bake installed it. */
  commit?: string;
  /** For galaxy roles: the requirements.yml entry, and its `version` value, for errors. */
  location?: SourceLocation;
  versionLocation?: SourceLocation;
}

/** A collection from collections/requirements.yml, installed by bake into its galaxy cache. */
export interface Collection {
  /** As written: `acme.tools`, or a git source for `type: git`. */
  name: string;
  version: string;
  type?: string;
  source?: string;
  /** Set once installed: the cache folder holding `ansible_collections/`, and the resolved commit for git sources. */
  dir?: string;
  commit?: string;
  location: SourceLocation;
  versionLocation?: SourceLocation;
}

export interface Bakery {
  /** Absolute bakery root (the --dir). */
  root: string;
  config: BakeryConfig;
  /** In file-name order. */
  recipes: Recipe[];
  roles: Map<string, Role>;
  /** From collections/requirements.yml; absent or empty: none. */
  collections?: Collection[];
}
