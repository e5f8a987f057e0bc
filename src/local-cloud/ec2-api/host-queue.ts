// Host work for one instance runs in order: a terminate that arrives while the instance is
// still booting, or a capture right after a stop, must wait for the step before it.
const queues = new Map<string, Promise<unknown>>();

/** Queues the work behind the instance's earlier host work; resolves (never rejects) once it has run. */
export function enqueue(instanceId: string, work: () => Promise<void>): Promise<void> {
  const next = (queues.get(instanceId) ?? Promise.resolve()).then(work, work);
  queues.set(instanceId, next);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  void settled.then(() => {
    if (queues.get(instanceId) === next) queues.delete(instanceId);
  });
  return settled;
}

/** Resolves when every host operation started so far has finished (close, tests). */
export async function settleHostWork(): Promise<void> {
  while (queues.size) await Promise.allSettled([...queues.values()]);
}
