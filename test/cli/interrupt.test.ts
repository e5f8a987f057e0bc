import { describe, expect, it } from 'vitest';
import { untilAborted, whileInterruptible } from '../../src/cli/interrupt.js';

// process.emit calls the listeners only: no real signal reaches this test process.
const deliver = (signal: NodeJS.Signals) => process.emit(signal, signal);

describe('SIGINT and SIGTERM during a command', () => {
  it('abort the work once, tell the first signal and every one after it, and leave no listener behind', async () => {
    const told: string[] = [];
    const listening = () => [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const before = listening();
    const result = await whileInterruptible(
      { interrupted: (s) => told.push(`stopping (${s})`), again: (s) => told.push(`still stopping (${s})`) },
      async (signal) => {
        expect(listening()).toEqual(before.map((n) => n + 1));
        expect(signal.aborted).toBe(false);
        deliver('SIGTERM');
        expect(signal.aborted).toBe(true);
        deliver('SIGINT');
        return 'wound down';
      },
    );
    expect(result).toBe('wound down');
    expect(told).toEqual(['stopping (SIGTERM)', 'still stopping (SIGINT)']);
    expect(listening()).toEqual(before);
  });

  it('removes its listeners when the work fails too', async () => {
    const before = process.listenerCount('SIGINT');
    await expect(whileInterruptible({}, async () => Promise.reject(new Error('bake failed')))).rejects.toThrow(
      'bake failed',
    );
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('lets a command wait for Ctrl-C', async () => {
    const order: string[] = [];
    await whileInterruptible({}, async (signal) => {
      const waiting = untilAborted(signal).then(() => order.push('stopped'));
      order.push('serving');
      deliver('SIGINT');
      await waiting;
    });
    expect(order).toEqual(['serving', 'stopped']);
  });
});
