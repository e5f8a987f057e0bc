/**
 * What tfvars files pin, read back with the real parsers: for `bake prune` (which must never
 * delete a pinned image), `bake images` (what pins each image) and `bake pin` (the text it edits).
 */
import { MAX_INPUT_BYTES, readInputFile, UnreadableInputError } from '../files/read-input-file.js';
import { TfvarsError } from '../errors/index.js';
import type { Recipe } from '../recipes/model.js';
import { isJsonTfvars, parseHclTfvars, parseJsonTfvars } from './edit-tfvars.js';

export const AMI_ID = /^ami-[0-9a-f]{8,17}$/;

/** The file's text, or undefined when it does not exist. */
export async function readTfvars(file: string): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readInputFile(file, MAX_INPUT_BYTES);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof UnreadableInputError) throw new TfvarsError(`${error.reason}; bake left it untouched`, file);
    throw error;
  }
  const text = bytes.toString('utf8');
  // Editing a file that is not UTF-8 through a JS string would rewrite bytes bake does not own.
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    throw new TfvarsError('is not valid UTF-8; bake left it untouched', file);
  }
  return text;
}

/** A read-only file says "do not change me": replacing it by rename would ignore that (as root, even more so). */

/**
 * Every AMI id pinned in the given tfvars files → the `file:variable` places pinning it, read
 * with the real parsers (for `bake prune`, which must never delete a pinned image). Missing
 * files are skipped; a file that does not parse is an error, never "nothing pinned".
 */
export async function readPinnedAmis(files: string[]): Promise<Map<string, string[]>> {
  const pinned = new Map<string, string[]>();
  for (const file of new Set(files)) {
    const text = await readTfvars(file);
    if (text === undefined) continue;
    const values = isJsonTfvars(file) ? parseJsonTfvars(file, text) : await parseHclTfvars(file, text);
    for (const [variable, value] of Object.entries(values)) {
      for (const ami of amisIn(value)) {
        const places = pinned.get(ami) ?? [];
        const place = `${file}:${variable}`;
        if (!places.includes(place)) places.push(place);
        pinned.set(ami, places);
      }
    }
  }
  return pinned;
}

function amisIn(value: unknown): string[] {
  if (typeof value === 'string') return AMI_ID.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(amisIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(amisIn);
  return [];
}

/** What one pin target holds for one region, read back (for `bake images`). */
export interface PinnedValue {
  /** `infra/web/amis.auto.tfvars:web_ami["eu-west-1"]`, `ssm:eu-west-1:/images/web/ami` (tfvars paths as written in the recipe's bakery). */
  place: string;
  region: string;
  /** undefined: the target holds nothing for this region yet. */
  ami?: string;
  /** The environment of the target (bake.config.yaml `environments:`), when the bakery declares them. */
  environment?: string;
}

/**
 * The values a recipe's tfvars targets hold now, per region they pin: a map target pins every
 * region, a `key:` or `format: string` target the first region. Files are read once each.
 */
export async function readTfvarsPinValues(recipe: Recipe, label: (file: string) => string): Promise<PinnedValue[]> {
  const parsed = new Map<string, Record<string, unknown> | undefined>();
  const valuesOf = async (file: string) => {
    if (!parsed.has(file)) {
      const text = await readTfvars(file);
      parsed.set(
        file,
        text === undefined
          ? undefined
          : isJsonTfvars(file)
            ? parseJsonTfvars(file, text)
            : await parseHclTfvars(file, text),
      );
    }
    return parsed.get(file);
  };
  const out: PinnedValue[] = [];
  for (const target of recipe.pin) {
    const value = (await valuesOf(target.file))?.[target.variable];
    const entry = (map: unknown, key: string) =>
      map && typeof map === 'object' && !Array.isArray(map) ? (map as Record<string, unknown>)[key] : undefined;
    const asAmi = (v: unknown) => (typeof v === 'string' && AMI_ID.test(v) ? v : undefined);
    const where = `${label(target.file)}:${target.variable}`;
    const environment = target.environment === undefined ? {} : { environment: target.environment };
    if (target.key !== undefined) {
      out.push({
        place: `${where}[${JSON.stringify(target.key)}]`,
        region: recipe.regions[0],
        ami: asAmi(entry(value, target.key)),
        ...environment,
      });
    } else if (target.format === 'string') {
      out.push({ place: where, region: recipe.regions[0], ami: asAmi(value), ...environment });
    } else {
      for (const region of recipe.regions)
        out.push({
          place: `${where}[${JSON.stringify(region)}]`,
          region,
          ami: asAmi(entry(value, region)),
          ...environment,
        });
    }
  }
  return out;
}
