/**
 * The contract tags (src/tags/tag-contract.ts) of one baked image. Pure: the pipeline applies them to
 * the AMI and its snapshots in every region, because EC2 tags are bake's record of what exists.
 */
import { amiNamePrefix } from '../packer/template.js';
import { DEFAULT_ARCHITECTURE, recipeKey, type Architecture } from '../tags/architecture.js';
import {
  ARCH_TAG,
  BAKERY_TAG,
  BASE_AMI_TAG,
  BUILD_URL_TAG,
  BUILT_AT_TAG,
  FINGERPRINT_TAG,
  GIT_COMMIT_TAG,
  INPUTS_TAG,
  JOB_TAG,
  NAME_TAG,
  PARENT_TAG,
  RECIPE_TAG,
  fitTagValue,
  isReservedTagKey,
} from '../tags/tag-contract.js';

export interface ImageTagInput {
  /** The recipe's name as written (bake:recipe). */
  recipe: string;
  /** bake:arch; default x86_64, what recipes that name no architectures build. */
  architecture?: Architecture;
  /** Bakery-wide tags, then the recipe's own (the recipe wins). */
  userTags: Record<string, string>;
  fingerprint: string;
  gitCommit: string;
  baseAmi: string;
  /** The parent recipe's AMI (build region) when built from one. */
  parentAmi?: string;
  /** ISO 8601. */
  builtAt: string;
  /** Jenkins BUILD_URL, when set. */
  buildUrl?: string;
  /** Jenkins JOB_NAME, when set. */
  jobName?: string;
  /** What went into the fingerprint, as the plan summarised it. */
  inputs?: unknown;
  /** The bakery the image belongs to (bake:bakery). */
  bakery?: string;
}

export function imageTags(input: ImageTagInput): Record<string, string> {
  const architecture = input.architecture ?? DEFAULT_ARCHITECTURE;
  const stamp = input.builtAt.replace(/\.\d+Z$/, 'Z').replace(/[- TZ:]/g, '');
  const tags: Record<string, string> = {};
  // User tags first: a recipe cannot override bake's own keys, nor use EC2's reserved aws: prefix.
  for (const [key, value] of Object.entries(input.userTags)) {
    if (!isReservedTagKey(key)) tags[key] = value;
  }
  Object.assign(tags, {
    // The same name Packer gave the AMI: the (recipe, architecture) pair's (src/packer/template.ts).
    [NAME_TAG]: `${amiNamePrefix(recipeKey(input.recipe, architecture))}-${input.fingerprint.slice(0, 12)}-${stamp}`,
    [RECIPE_TAG]: input.recipe,
    [ARCH_TAG]: architecture,
    [FINGERPRINT_TAG]: input.fingerprint,
    [GIT_COMMIT_TAG]: input.gitCommit,
    [BASE_AMI_TAG]: input.baseAmi,
    [BUILT_AT_TAG]: input.builtAt,
  });
  if (input.parentAmi) tags[PARENT_TAG] = input.parentAmi;
  if (input.buildUrl) tags[BUILD_URL_TAG] = input.buildUrl;
  if (input.jobName) tags[JOB_TAG] = input.jobName;
  if (input.bakery) tags[BAKERY_TAG] = input.bakery;
  const inputs = inputsTagValue(input.inputs);
  if (inputs) tags[INPUTS_TAG] = inputs;
  for (const key of Object.keys(tags)) tags[key] = fitTagValue(tags[key]);
  return tags;
}

/** A plan's inputs as one tag value: a string as is, anything else as compact JSON. */
export function inputsTagValue(inputs: unknown): string | undefined {
  if (inputs === undefined || inputs === null) return undefined;
  const text = typeof inputs === 'string' ? inputs : JSON.stringify(inputs);
  return text === '' || text === '{}' || text === '[]' ? undefined : text;
}

/** EC2 limit on an AMI description. */
const AMI_DESCRIPTION_MAX = 255;

/** The recipe's description as EC2 takes it (bake sets it after Packer, which would template it). */
export function amiDescription(description: string): string {
  const points = [...description];
  return points.length <= AMI_DESCRIPTION_MAX ? description : points.slice(0, AMI_DESCRIPTION_MAX).join('');
}
