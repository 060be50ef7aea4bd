import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import '../../../src/kafka/kafkajsClient.js'; // installs the corrected scheduler

interface QueueLike {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
}
const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
  prototype: { scheduleCheckPendingRequests(this: QueueLike): void };
};

afterEach(() => {
  vi.restoreAllMocks();
});

function scheduledDelay(state: Omit<QueueLike, 'checkPendingRequests' | 'throttleCheckTimeoutId'>): number | undefined {
  const spy = vi.spyOn(globalThis, 'setTimeout');
  const queue: QueueLike = { ...state, throttleCheckTimeoutId: null, checkPendingRequests: () => {} };
  RequestQueue.prototype.scheduleCheckPendingRequests.call(queue);
  const delay = spy.mock.calls.at(-1)?.[1];
  spy.mockRestore();
  if (queue.throttleCheckTimeoutId) clearTimeout(queue.throttleCheckTimeoutId);
  return delay;
}

describe("kafkajs' request-queue timer (Node 24 TimeoutNegativeWarning)", () => {
  it('is never scheduled with a negative delay when nothing is throttled or pending', () => {
    // kafkajs' own code passes throttledUntil - Date.now(), about minus the epoch, which Node 24 warns about
    expect(scheduledDelay({ throttledUntil: -1, pending: [] })).toBe(1);
  });

  it('keeps kafkajs behaviour otherwise: its 10 ms check with requests pending, the throttle delay when throttled', () => {
    expect(scheduledDelay({ throttledUntil: -1, pending: [{}] })).toBe(10);
    const delay = scheduledDelay({ throttledUntil: Date.now() + 500, pending: [{}] }) ?? 0;
    expect(delay).toBeGreaterThan(400);
    expect(delay).toBeLessThanOrEqual(500);
  });
});
