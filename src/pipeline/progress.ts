/**
 * What a build shows while it runs. On a TTY, listr2 draws one task per recipe with its latest
 * Packer line; in CI (Jenkins), plain timestamped lines that read well in a console log
 * (src/pipeline/create-progress.ts picks one).
 */

export type RecipeOutcomeStatus = 'built' | 'reused' | 'failed' | 'skipped' | 'aborted';
export type RecipeWork = 'building' | 'distributing';

export interface BuildProgress {
  /** Every recipe of the plan, in order, before anything starts. */
  planned(recipes: Array<{ name: string; action: 'build' | 'reuse'; detail: string }>): void;
  /** `distributing`: today's image exists, it is only copied to regions or given its sharing settings. */
  started(name: string, doing: RecipeWork): void;
  /** A line of the recipe's Packer output. */
  line(name: string, text: string): void;
  settled(name: string, status: RecipeOutcomeStatus, detail: string): void;
  /** Lines about the run as a whole (pinning, interruption). */
  note(message: string): void;
  close(): Promise<void>;
}

/** Progress that shows nothing (library use, tests). */
export const silentProgress: BuildProgress = {
  planned() {},
  started() {},
  line() {},
  settled() {},
  note() {},
  close: async () => {},
};
