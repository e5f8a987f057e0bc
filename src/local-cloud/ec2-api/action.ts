import type { InstanceHost } from '../instance-host.js';
import type { QueryParams } from './query.js';
import type { SimulatedTime } from './simulated-time.js';
import type { CloudState } from './state.js';
import type { XmlValue } from './xml.js';

/** What an EC2 action handler gets: the request, the region it is addressed to, and the cloud. */
export interface ActionContext {
  params: QueryParams;
  region: string;
  state: CloudState;
  host: InstanceHost;
  /** How long things take (the latency profile; without one, nothing waits). */
  time: SimulatedTime;
  /** Saves the state; for work that finishes after the response (an instance booting, an image being captured). */
  persist(): void;
  /** Debug line (BAKE_DEBUG_LOCAL_CLOUD=1); never key material. */
  log(message: string): void;
}

/** Returns the elements inside `<ActionResponse>` after `<requestId>`. */
export type Action = (context: ActionContext) => Record<string, XmlValue> | Promise<Record<string, XmlValue>>;

/**
 * Sends the answer once the host work the call started is done (SimulatedTime.answerAfter), so a
 * waiter's first poll finds the new state. The state as answered is saved first: a bake killed
 * during the wait still finds the new instance or image at its next start-up sweep.
 */
export async function answerOnceDone(context: ActionContext, work: Promise<unknown>): Promise<void> {
  context.persist();
  await context.time.answerAfter(work);
}
