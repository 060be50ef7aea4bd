import { describe, expect, it } from 'vitest';
import { backoffDelay, retryUntil } from '../../src/backoff.js';
import type { Clock } from '../../src/clock.js';

/** A clock whose timers fire at once, remembering the waits asked for. */
function instantClock(): Clock & { readonly waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    now: () => 0,
    setTimeout(fn, ms) {
      waits.push(ms);
      queueMicrotask(fn);
      return () => {};
    },
    setInterval() {
      throw new Error('not used');
    },
  };
}

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelay(attempt, 1_000, 30_000))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
    expect(backoffDelay(10_000, 1_000, 30_000)).toBe(30_000);
    expect(backoffDelay(0, 100, 5_000)).toBe(100);
  });
});

describe('retryUntil', () => {
  it('tries again after growing waits on its clock until the call resolves', async () => {
    const clock = instantClock();
    const told: number[] = [];
    let calls = 0;
    const fn = async () => {
      calls++;
      if (calls < 4) throw new Error(`no ${calls}`);
      return 'done';
    };
    const options = { initialMs: 100, maxMs: 250, clock, stopped: () => false };
    await expect(retryUntil(fn, { ...options, onError: (_e, ms) => told.push(ms) })).resolves.toBe('done');
    expect(clock.waits).toEqual([100, 200, 250]);
    expect(told).toEqual([100, 200, 250]);
  });

  it('gives up with undefined once stopped', async () => {
    const clock = instantClock();
    let calls = 0;
    const fn = async () => {
      calls++;
      throw new Error('down');
    };
    const stopped = () => calls >= 2;
    await expect(retryUntil(fn, { initialMs: 100, maxMs: 100, clock, stopped, onError: () => {} })).resolves.toBe(
      undefined,
    );
    expect(calls).toBe(2);
  });
});
