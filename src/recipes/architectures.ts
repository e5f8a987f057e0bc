/**
 * One recipe file, one image per architecture (`architectures: [x86_64, arm64]`, docs/recipes.md).
 * The loader turns a recipe into one Recipe per architecture here, so that plan, build, pin,
 * prune, images and the graph handle each (recipe, architecture) pair as the recipe they always
 * handled. A recipe (and config) that names no architectures gives back exactly the recipe it
 * gave before: same name, no `architecture`, same fingerprint and template.
 *
 * The plain keys (`instance_type`, a base's `ami:` or `ssm:`, a pin's `variable:` or `ssm:`) belong
 * to the recipe's primary architecture: x86_64 when it builds x86_64, else its only (first) one. The
 * `arch_…` maps (`instance_types`, `arch_amis`, `arch_ssm`, `arch_variables`) name the others, so
 * adding arm64 to a recipe leaves every existing pin as it was.
 */
import { RecipeError, type SourceLocation } from '../errors/index.js';
import {
  DEFAULT_ARCHITECTURE,
  architectureOf,
  recipeKey,
  splitRecipeKey,
  type Architecture,
} from '../tags/architecture.js';
import type { BakeryConfig, BaseImage, PinTarget, Recipe, SsmPinTarget } from './model.js';
import type { RecipeDocument } from './schema.js';
import type { YamlSource } from './yaml-source.js';

/** What a recipe builds for an architecture nobody gave an instance type for. */
export const DEFAULT_INSTANCE_TYPES: Record<Architecture, string> = { x86_64: 't3.small', arm64: 't4g.small' };

/** The recipe's name as written in its file. */
export function recipeNameOf(recipe: Recipe): string {
  return recipe.recipeName ?? recipe.name;
}

/** x86_64 for recipes that name no architectures. */
export function architectureOfRecipe(recipe: Recipe): Architecture {
  return recipe.architecture ?? DEFAULT_ARCHITECTURE;
}

/** The architecture whose settings the plain keys hold. */
export function primaryArchitecture(architectures: readonly Architecture[]): Architecture {
  return architectures.includes(DEFAULT_ARCHITECTURE) ? DEFAULT_ARCHITECTURE : architectures[0];
}

/** Whether a recipe with these architectures is one as bake always built: x86_64 alone. */
export function isDefaultArchitectures(architectures: readonly Architecture[]): boolean {
  return architectures.length === 1 && architectures[0] === DEFAULT_ARCHITECTURE;
}

interface VariantInput {
  source: YamlSource;
  doc: RecipeDocument;
  config: BakeryConfig;
  /** The recipe as the loader read it, for its primary architecture. */
  recipe: Recipe;
}

/** The recipe's images, one per architecture, and what keeps one from being built. */
export function recipeVariants({ source, doc, config, recipe }: VariantInput): { recipes: Recipe[]; errors: RecipeError[] } {
  const architectures = doc.architectures ?? config.architectures ?? [DEFAULT_ARCHITECTURE];
  const errors: RecipeError[] = [];
  const at = (path: (string | number)[], key = false): SourceLocation => source.locate(path, key);
  const repeated = architectures.filter((arch, i) => architectures.indexOf(arch) !== i);
  if (repeated.length)
    errors.push(new RecipeError(`architectures lists ${[...new Set(repeated)].join(', ')} more than once`, at(['architectures'])));
  const wanted = [...new Set(architectures)];
  const primary = primaryArchitecture(wanted);
  const declared = !isDefaultArchitectures(wanted);
  const notBuilt = (map: object | undefined, ...path: string[]) => {
    for (const arch of Object.keys(map ?? {}) as Architecture[]) {
      if (!wanted.includes(arch))
        errors.push(new RecipeError(`${[...path, arch].join('.')}: the recipe does not build ${arch} (architectures: ${wanted.join(', ')})`, at([...path, arch], true)));
      else if (arch === primary && path[0] !== 'instance_types')
        errors.push(new RecipeError(`${[...path, arch].join('.')}: ${arch} is the recipe's primary architecture, set by the plain key`, at([...path, arch], true)));
    }
  };
  notBuilt(doc.instance_types, 'instance_types');
  if ('ami' in doc.base) notBuilt(doc.base.arch_amis, 'base', 'arch_amis');
  if ('ssm' in doc.base) notBuilt(doc.base.arch_ssm, 'base', 'arch_ssm');
  doc.pin.forEach((target, i) => notBuilt('ssm' in target ? target.arch_ssm : target.arch_variables, 'pin', String(i), 'ssm' in target ? 'arch_ssm' : 'arch_variables'));
  if (doc.instance_type !== undefined && doc.instance_types?.[primary] !== undefined)
    errors.push(new RecipeError(`instance_types.${primary} and instance_type both set the ${primary} instance type: keep one`, at(['instance_types', primary], true)));

  const recipes: Recipe[] = [];
  for (const arch of wanted) {
    const variant = variantFor({ source, doc, config, recipe }, arch, primary, declared, errors);
    if (variant) recipes.push(variant);
  }
  return { recipes, errors };
}

function variantFor(input: VariantInput, arch: Architecture, primary: Architecture, declared: boolean, errors: RecipeError[]): Recipe | undefined {
  const { source, doc, config, recipe } = input;
  const at = (path: (string | number)[], key = false): SourceLocation => source.locate(path, key);
  const isPrimary = arch === primary;
  const instanceType = instanceTypeFor(doc, config, arch, isPrimary);
  const typeKey = doc.instance_types?.[arch] !== undefined ? ['instance_types', arch] : isPrimary && doc.instance_type !== undefined ? ['instance_type'] : undefined;
  if (architectureOf(instanceType) !== arch) {
    const where = typeKey ? at(typeKey) : at(['name']);
    const from = typeKey ? '' : ' (the bakery default: set instance_types in the recipe or bake.config.yaml)';
    errors.push(new RecipeError(`instance type ${instanceType}${from} is ${architectureOf(instanceType)}, not ${arch}`, where));
  }
  const launchType = recipe.launchTest?.instanceType;
  if (launchType !== undefined && declared && architectureOf(launchType) !== arch)
    errors.push(new RecipeError(`launch_test.instance_type ${launchType} is ${architectureOf(launchType)}, but the recipe also builds ${arch}: drop it to test on each architecture's instance type`, at(['launch_test', 'instance_type'])));
  const base = baseFor(doc, recipe.base, arch, isPrimary, declared);
  if (!base) {
    const key = 'ami' in doc.base ? 'arch_amis' : 'arch_ssm';
    errors.push(new RecipeError(`base has no ${arch} image: add ${key}: {${arch}: …} beside ${'ami' in doc.base ? 'ami' : 'ssm'}`, at(['base'], true)));
    return undefined;
  }
  const pins = pinsFor(doc, recipe, arch, primary, at, errors);
  if (!declared) return recipe;
  return {
    ...recipe,
    name: recipeKey(recipe.name, arch),
    recipeName: recipe.name,
    architecture: arch,
    instanceType,
    base,
    pin: pins.pin,
    ssmPins: pins.ssmPins,
  };
}

function instanceTypeFor(doc: RecipeDocument, config: BakeryConfig, arch: Architecture, isPrimary: boolean): string {
  const own = doc.instance_types?.[arch] ?? (isPrimary ? doc.instance_type : undefined);
  if (own !== undefined) return own;
  const configured = config.instanceTypes?.[arch];
  if (configured !== undefined) return configured;
  // The config's instance_type is the default of the architecture it is of.
  return architectureOf(config.instanceType) === arch ? config.instanceType : DEFAULT_INSTANCE_TYPES[arch];
}

/** The base of one architecture: a filter narrowed to it, the AMI or SSM parameter named for it, the parent's image of it. */
function baseFor(doc: RecipeDocument, base: BaseImage, arch: Architecture, isPrimary: boolean, declared: boolean): BaseImage | undefined {
  if (!declared) return base;
  switch (base.kind) {
    case 'filter':
      return { ...base, architecture: arch };
    case 'recipe':
      return { kind: 'recipe', recipe: recipeKey(base.recipe, arch) };
    case 'ami': {
      const ami = isPrimary ? base.ami : 'ami' in doc.base ? doc.base.arch_amis?.[arch] : undefined;
      return ami === undefined ? undefined : { kind: 'ami', ami, architecture: arch };
    }
    case 'ssm': {
      const parameter = isPrimary ? base.parameter : 'ssm' in doc.base ? doc.base.arch_ssm?.[arch] : undefined;
      return parameter === undefined ? undefined : { kind: 'ssm', parameter };
    }
  }
}

/** Each pin target once per architecture: the plain `variable:`/`ssm:` for the primary one, `arch_…` for the others. */
function pinsFor(
  doc: RecipeDocument,
  recipe: Recipe,
  arch: Architecture,
  primary: Architecture,
  at: (path: (string | number)[], key?: boolean) => SourceLocation,
  errors: RecipeError[],
): { pin: PinTarget[]; ssmPins: SsmPinTarget[] } {
  if (arch === primary) return { pin: recipe.pin, ssmPins: recipe.ssmPins };
  const pin: PinTarget[] = [];
  const ssmPins: SsmPinTarget[] = [];
  let tfvars = 0;
  let ssm = 0;
  doc.pin.forEach((target, i) => {
    if ('ssm' in target) {
      const own = recipe.ssmPins[ssm++];
      const parameter = target.arch_ssm?.[arch];
      if (parameter === undefined) errors.push(new RecipeError(`pin ${target.ssm}: no ${arch} parameter: add arch_ssm: {${arch}: /…} (the recipe builds ${arch})`, at(['pin', i])));
      else ssmPins.push({ ...own, parameter });
    } else {
      const own = recipe.pin[tfvars++];
      const variable = target.arch_variables?.[arch];
      if (variable === undefined) errors.push(new RecipeError(`pin ${target.file}: no ${arch} variable: add arch_variables: {${arch}: …} (the recipe builds ${arch}; variable ${target.variable} holds the ${primary} image)`, at(['pin', i])));
      else pin.push({ ...own, variable });
    }
  });
  return { pin, ssmPins };
}

/**
 * A recipe built FROM a parent builds each architecture on the parent's image of it: a parent
 * that does not build one is refused at the child's `recipe:` line, before the graph would call
 * it an unknown recipe.
 */
export function parentArchitectureErrors(recipes: readonly Recipe[]): { errors: RecipeError[]; unbuildable: Set<string> } {
  const keys = new Set(recipes.map((r) => r.name));
  const declared = new Map<string, Architecture[]>();
  for (const recipe of recipes) declared.set(recipeNameOf(recipe), [...(declared.get(recipeNameOf(recipe)) ?? []), architectureOfRecipe(recipe)]);
  const errors: RecipeError[] = [];
  const unbuildable = new Set<string>();
  for (const recipe of recipes) {
    if (recipe.base.kind !== 'recipe' || keys.has(recipe.base.recipe)) continue;
    const parent = splitRecipeKey(recipe.base.recipe).recipe;
    const has = declared.get(parent);
    if (!has) continue;
    unbuildable.add(recipe.name);
    errors.push(
      new RecipeError(
        `parent recipe ${parent} builds no ${architectureOfRecipe(recipe)} image (its architectures: ${has.join(', ')})`,
        recipe.locations['base.recipe'] ?? recipe.locations['base'] ?? { file: recipe.file, line: 1, col: 1 },
      ),
    );
  }
  return { errors, unbuildable };
}
