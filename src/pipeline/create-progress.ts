import type { Output } from '../io/output.js';
import type { BuildProgress } from './progress.js';
import { createListrProgress } from './progress-listr.js';
import { createPlainProgress } from './progress-plain.js';

/** listr2 on a terminal, timestamped lines elsewhere (a Jenkins console). */
export function createProgress(output: Output): BuildProgress {
  return output.interactive ? createListrProgress(output) : createPlainProgress(output);
}
