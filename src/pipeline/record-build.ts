/**
 * The build's record of what it vouches for (src/tags/build-record.ts): once an image passed its
 * launch test (or the recipe has none), and once bake's distribution copied it, the image id is
 * written under the bakery's SSM path. Plan, pin, promote and rollback accept only recorded images,
 * so a copy someone tagged with today's fingerprint is never reused.
 */
import { EARLIER_KEPT, buildRecordName, untestedRecordKey } from '../tags/build-record.js';
import type { RecipeLog } from './build-log.js';
import type { BuildRun, PlannedRecipe } from './build-run.js';

/** Records each region's image unless the record names it already (a reused or re-distributed image). */
export async function recordBuiltImages(
  run: BuildRun,
  entry: PlannedRecipe,
  amis: Record<string, string>,
  log: RecipeLog,
): Promise<void> {
  const records = run.deps.records;
  if (!records || Object.keys(amis).length === 0) return;
  const have =
    (await records.read([{ recipe: entry.name, fingerprint: entry.fingerprint, regions: Object.keys(amis) }])).get(
      entry.name,
    ) ?? {};
  const recordedAt = run.deps.now().toISOString();
  for (const [region, imageId] of Object.entries(amis)) {
    const before = have[region];
    if (before?.imageId === imageId) continue;
    // The image it replaces (a security rebuild of the same fingerprint) stays bake's own for promote and rollback.
    const earlier = before ? [before.imageId, ...(before.earlier ?? [])].filter((id) => id !== imageId) : [];
    await records.write(entry.name, entry.fingerprint, region, {
      imageId,
      ...(earlier.length && { earlier: earlier.slice(0, EARLIER_KEPT) }),
      runId: run.runId,
      recordedAt,
      ...(run.options.buildUrl && { buildUrl: run.options.buildUrl }),
    });
    const name = buildRecordName(run.bakery.config.bakery, entry.name, entry.fingerprint);
    await log.note(`recorded ${imageId} in ${region} as ${entry.name} ${entry.fingerprint} (${name})`);
  }
}

/**
 * `--launch-test later`: records the build region's new image as awaiting its launch test, so that
 * a later plan tests this very image (a `pending` tag alone is only a claim) and a child's
 * `--parent-untested` may bake on it. Nothing that shares or pins reads this record.
 */
export async function recordUntestedImage(
  run: BuildRun,
  entry: PlannedRecipe,
  region: string,
  imageId: string,
  log: RecipeLog,
): Promise<void> {
  const records = run.deps.records;
  if (!records) return;
  await records.write(entry.name, untestedRecordKey(entry.fingerprint), region, {
    imageId,
    runId: run.runId,
    recordedAt: run.deps.now().toISOString(),
    ...(run.options.buildUrl && { buildUrl: run.options.buildUrl }),
  });
  await log.note(`recorded ${imageId} in ${region} as ${entry.name} ${entry.fingerprint}, awaiting its launch test`);
}
