/**
 * kafkajs 2.2.4 schedules its request-queue check with `setTimeout(fn, throttledUntil - Date.now())` even when nothing
 * is throttled, a delay of about minus the epoch. Node always ran such a timer after 1 ms; Node 24 also prints a
 * TimeoutNegativeWarning on stderr, once per process (kafkajs#1751, fixed upstream in an unmerged PR). This replaces
 * the method with the same one whose delay is never below 1 ms: the same behaviour, without the warning.
 */
import { createRequire } from 'node:module';

/** kafkajs' pending-request check interval when a request waits (its own constant). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

interface RequestQueueState {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
}

type RequestQueueClass = { prototype: { scheduleCheckPendingRequests(this: RequestQueueState): void } };

let patched = false;

/** Installs the corrected scheduler on kafkajs' RequestQueue (once per process). */
export function patchKafkajsNegativeTimeout(): void {
  if (patched) return;
  patched = true;
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;
  RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueState) {
    let scheduleAt = this.throttledUntil - Date.now();
    if (this.throttleCheckTimeoutId) return;
    if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      Math.max(1, scheduleAt),
    );
  };
}
