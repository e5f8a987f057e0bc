/**
 * Removes what this run made on an image that did not pass its launch test (its own or one up
 * its chain): a child's image, or a copy made while the test ran. Each image goes with its
 * snapshots (BuildDeps.discardImage); what cannot be removed is logged `LEFT BEHIND:` with why.
 */
import type { RecipeLog } from './build-log.js';
import type { BuildRun } from './build-run.js';

export async function discardImages(run: BuildRun, amis: Record<string, string>, log: RecipeLog): Promise<void> {
  await Promise.all(
    Object.entries(amis).map(async ([region, ami]) => {
      if (!run.deps.discardImage) {
        await log.note(
          `${ami} in ${region} stays, tagged with its unfinished launch test (nothing here removes images)`,
        );
        return;
      }
      try {
        const removed = await run.deps.discardImage(region, ami);
        await log.note(
          `removed ${removed.length ? removed.join(', ') : `nothing (${ami} was gone already)`} in ${region}`,
        );
      } catch (error) {
        await log.note(`LEFT BEHIND: ${ami} in ${region}: ${(error as Error).message}`);
      }
    }),
  );
}
