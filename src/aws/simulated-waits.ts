/**
 * bake's waits in the local cloud's simulated time (AwsSettings.timeScale, from its latency
 * profile): a waiter's delays and time limit are simulated seconds, so they shrink by the scale
 * and a simulated wait is polled as often as the real one would be on AWS. On AWS the scale is 1
 * and nothing changes.
 */

/** A waiter's timing, in (simulated) seconds, as the SDK's waiters take it. */
export interface WaiterTiming {
  minDelay: number;
  maxDelay: number;
  maxWaitTime: number;
}

/**
 * The least real time a scaled time limit leaves: what the local cloud's host really does (boot a
 * machine, tear one down) takes real seconds on this machine whatever the scale, more under load.
 */
export const REAL_WORK_FLOOR_S = 60;

export function scaledWaiterTiming(timing: WaiterTiming, timeScale = 1): WaiterTiming {
  if (timeScale === 1) return timing;
  return {
    minDelay: timing.minDelay * timeScale,
    maxDelay: timing.maxDelay * timeScale,
    maxWaitTime: Math.min(timing.maxWaitTime, Math.max(timing.maxWaitTime * timeScale, REAL_WORK_FLOOR_S)),
  };
}

/** A pause between retries (milliseconds of simulated time), in real milliseconds. */
export function scaledDelayMs(ms: number, timeScale = 1): number {
  return ms * timeScale;
}
