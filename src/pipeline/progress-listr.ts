import {
  Listr,
  ListrLogger,
  ProcessOutput,
  type DefaultRenderer,
  type ListrTaskWrapper,
  type SimpleRenderer,
} from 'listr2';
import type { Output } from '../io/output.js';
import { terminalSafe } from '../io/terminal-text.js';
import type { BuildProgress, RecipeOutcomeStatus, RecipeWork } from './progress.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface RecipeTask {
  started: Deferred<RecipeWork>;
  settled: Deferred<{ status: RecipeOutcomeStatus; detail: string }>;
  // The renderers createListrProgress gives Listr: a TTY's default, the simple one as fallback.
  wrapper?: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;
}

/**
 * listr2 owns the screen but not the work: each recipe's listr task only waits for the pipeline
 * to report that recipe started and settled, and mirrors it.
 */
export function createListrProgress(output: Output, screen?: NodeJS.WriteStream): BuildProgress {
  const tasks = new Map<string, RecipeTask>();
  let running: Promise<unknown> = Promise.resolve();
  const stream = (screen ?? output.screen) as NodeJS.WriteStream;
  const processOutput = new ProcessOutput(stream, stream);

  return {
    planned(recipes) {
      for (const recipe of recipes) tasks.set(recipe.name, { started: deferred(), settled: deferred() });
      const listr = new Listr(
        recipes.map((recipe) => ({
          title: terminalSafe(`${recipe.name}: ${recipe.action === 'reuse' ? 'reuse' : 'waiting'} ${recipe.detail}`),
          task: async (
            _ctx: unknown,
            wrapper: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>,
          ) => {
            if (recipe.action === 'reuse') return;
            const entry = tasks.get(recipe.name)!;
            entry.wrapper = wrapper;
            // Settled may come without a start (skipped because a parent failed).
            const first = await Promise.race([entry.started.promise, entry.settled.promise]);
            if (typeof first === 'string') wrapper.title = terminalSafe(`${recipe.name}: ${first}`);
            const { status, detail } = await entry.settled.promise;
            if (status === 'failed' || status === 'aborted') {
              wrapper.title = terminalSafe(`${recipe.name}: ${status}`);
              throw new Error(detail || status);
            }
            wrapper.title = terminalSafe(`${recipe.name}: ${status}${detail ? ` ${detail}` : ''}`);
            if (status === 'skipped') wrapper.skip(wrapper.title);
          },
        })),
        {
          concurrent: true,
          exitOnError: false,
          // listr2 falls back to line-by-line output when stdout is not a terminal (`--json` piped,
          // stderr on a terminal): that fallback must write where the rest of bake's words go too.
          fallbackRendererOptions: {
            logger: new ListrLogger({ processOutput, useIcons: true } as ConstructorParameters<typeof ListrLogger>[0]),
          },
          registerSignalListeners: false,
          rendererOptions: { collapseErrors: false, showErrorMessage: true, collapseSkips: false },
          processOutput,
        } as ConstructorParameters<typeof Listr>[1],
      );
      running = listr.run().catch(() => undefined);
    },
    started(name, doing) {
      tasks.get(name)?.started.resolve(doing);
    },
    line(name, text) {
      const wrapper = tasks.get(name)?.wrapper;
      if (wrapper && text.trim()) wrapper.output = terminalSafe(text.trim());
    },
    settled(name, status, detail) {
      tasks.get(name)?.settled.resolve({ status, detail });
    },
    note(message) {
      output.note(message);
    },
    async close() {
      for (const entry of tasks.values()) entry.settled.resolve({ status: 'aborted', detail: '' });
      await running;
    },
  };
}
