import { describe, expect, it } from 'vitest';
import { REAL_WORK_FLOOR_S, scaledDelayMs, scaledWaiterTiming } from '../../src/aws/simulated-waits.js';

describe('waits in the local cloud’s simulated time', () => {
  it('shrinks a waiter’s delays and time limit by the scale, never the limit below the real-work floor', () => {
    expect(scaledWaiterTiming({ minDelay: 1, maxDelay: 5, maxWaitTime: 6000 }, 0.03)).toEqual({
      minDelay: 0.03,
      maxDelay: 0.15,
      maxWaitTime: 180,
    });
    // 600 s × 0.03 = 18 s would not leave a loaded machine time to tear an instance down.
    expect(scaledWaiterTiming({ minDelay: 1, maxDelay: 10, maxWaitTime: 600 }, 0.03).maxWaitTime).toBe(
      REAL_WORK_FLOOR_S,
    );
    // ... and the floor never makes a short limit longer than it was.
    expect(scaledWaiterTiming({ minDelay: 1, maxDelay: 5, maxWaitTime: 30 }, 0.03).maxWaitTime).toBe(30);
    expect(scaledDelayMs(2_000, 0.03)).toBe(60);
  });

  it('changes nothing on AWS (no scale)', () => {
    const timing = { minDelay: 1, maxDelay: 15, maxWaitTime: 3600 };
    expect(scaledWaiterTiming(timing)).toEqual(timing);
    expect(scaledWaiterTiming(timing, 1)).toEqual(timing);
    expect(scaledDelayMs(2_000)).toBe(2_000);
  });
});
