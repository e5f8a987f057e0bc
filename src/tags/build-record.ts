/**
 * Build records: what bake itself vouches for. Tags say what an image claims to be, and anyone
 * with CopyImage + CreateTags can copy an image and give it today's `bake:recipe`,
 * `bake:fingerprint` and `bake:bakery`. So once an image is built and its launch test passed (or
 * copied by bake's distribution), the build writes the image id into an SSM parameter of the
 * bakery's own path, in the image's region:
 *
 *   /bake/<bakery>/images/<recipe>/<fingerprint>  →  {"image_id": "ami-…", "run_id": "…", …}
 *
 * and plan's reuse, pin, promote, rollback and the build's "baked meanwhile" check accept only the
 * image a record names. Whoever may write that path can still forge a record (docs/security.md).
 */

export const BUILD_RECORD_ROOT = '/bake';

/** The SSM parameter holding the record of one recipe's fingerprint (one per region: parameters are regional). */
export function buildRecordName(bakery: string, recipe: string, fingerprint: string): string {
  return `${buildRecordPath(bakery)}/${recipe}/${fingerprint}`;
}

/** Every record of a bakery lies under this path (what the IAM policy grants, with `/*`). */
export function buildRecordPath(bakery: string): string {
  return `${BUILD_RECORD_ROOT}/${bakery}/images`;
}

export interface BuildRecord {
  imageId: string;
  /** The bake run that made or copied the image. */
  runId: string;
  /** Jenkins BUILD_URL, when the run had one. */
  buildUrl?: string;
  /** ISO 8601. */
  recordedAt: string;
  /**
   * Images bake recorded for this fingerprint before (a security rebuild bakes the same fingerprint
   * again), newest first: no longer reused by plan, still bake's own for promote and rollback.
   */
  earlier?: string[];
}

/** How many earlier images a record keeps (well inside SSM's 4 KB for a standard parameter). */
export const EARLIER_KEPT = 20;

/** Whether the record vouches for the image: the one it names now, or one it named before. */
export function recordVouchesFor(record: BuildRecord | undefined, imageId: string): boolean {
  return Boolean(record && (record.imageId === imageId || record.earlier?.includes(imageId)));
}

/** The parameter's value: JSON, snake_case like every document bake writes. */
export function formatBuildRecord(record: BuildRecord): string {
  return JSON.stringify({
    image_id: record.imageId,
    run_id: record.runId,
    ...(record.buildUrl && { build_url: record.buildUrl }),
    recorded_at: record.recordedAt,
    ...(record.earlier?.length && { earlier: record.earlier.slice(0, EARLIER_KEPT) }),
  });
}

/** A record as read back; anything else in the parameter (not JSON, no image id) is no record at all. */
export function parseBuildRecord(value: string): BuildRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const fields = parsed as Record<string, unknown>;
  const text = (key: string) => (typeof fields[key] === 'string' ? (fields[key] as string) : undefined);
  const imageId = text('image_id');
  if (!imageId || !/^ami-[0-9a-f]+$/.test(imageId)) return undefined;
  const buildUrl = text('build_url');
  const earlier = Array.isArray(fields.earlier)
    ? fields.earlier.filter((id): id is string => typeof id === 'string' && /^ami-[0-9a-f]+$/.test(id))
    : [];
  return {
    imageId,
    runId: text('run_id') ?? '',
    recordedAt: text('recorded_at') ?? '',
    ...(buildUrl && { buildUrl }),
    ...(earlier.length && { earlier }),
  };
}

/**
 * The record key of an image baked with `--launch-test later`, its launch test still to run
 * (`<fingerprint>.untested`, beside the fingerprint's record, so the same IAM grant covers it).
 * Only plan (which then tests that image instead of baking again) and a child's
 * `--parent-untested` read it; pin, promote, rollback and reuse read only the fingerprint's own
 * record, written once the launch test passed, so an untested image is never shared or pinned.
 */
export function untestedRecordKey(fingerprint: string): string {
  return `${fingerprint}.untested`;
}
