// Host work for one instance runs in order: a terminate that arrives while the instance is
// still booting, or a capture right after a stop, must wait for the step before it.
const queues = new Map<string, Promise<unknown>>();

export function enqueue(instanceId: string, work: () => Promise<void>): void {
  const next = (queues.get(instanceId) ?? Promise.resolve()).then(work, work);
  queues.set(instanceId, next);
  void next.finally(() => {
    if (queues.get(instanceId) === next) queues.delete(instanceId);
  });
}

/** Resolves when every host operation started so far has finished (close, tests). */
export async function settleHostWork(): Promise<void> {
  while (queues.size) await Promise.allSettled([...queues.values()]);
}
