/**
 * SIGINT (a terminal's Ctrl-C) and SIGTERM (Jenkins' Abort, `kill`) during a command's long work.
 * bake does not die at once on either: while `work` runs, the first one aborts the signal the
 * work was given, so it starts nothing new, interrupts what runs (Packer, Ansible, a launch test)
 * and lets each clean up; the command then reports and exits as usual. Every command that runs
 * long work takes its interruptions here, so they all behave alike.
 */
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface InterruptNotices {
  /** Told at the first signal: what the command does now. */
  interrupted?(signal: NodeJS.Signals): void;
  /** Told at each further signal, while the work is still winding down. */
  again?(signal: NodeJS.Signals): void;
}

export async function whileInterruptible<T>(
  notices: InterruptNotices,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      notices.again?.(signal);
      return;
    }
    notices.interrupted?.(signal);
    controller.abort();
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    return await work(controller.signal);
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
}

/** Resolves once the signal is aborted (for a command whose work is to wait for Ctrl-C). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) =>
    signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}
