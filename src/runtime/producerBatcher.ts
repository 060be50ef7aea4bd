/**
 * One shared producer for all pipelines, sending in batches. Records wait in one queue per destination topic;
 * records queued while a request is in flight go out together in the next one. A topic has at most one request in
 * flight, so its order per partition holds with an idempotent producer.
 *
 * Topics acknowledged before share one request at a time (the fast path). A topic not acknowledged yet, or whose
 * records are being sent again after a failure, is sent on its own, beside the shared request: a topic that does
 * not exist or keeps failing never holds the others.
 *
 * After a failure:
 * - transient (broker unreachable, leader moving): the same group of records is sent again, as it is, ahead of the
 *   topic's later records, so each partition's sequence range stays the same and the broker drops what it already
 *   wrote. A group failing for `maxRetryMs` while other requests get through is given up: its records fail.
 * - the topic refuses everything (it does not exist once kafkajs refreshed the metadata, not authorised): its
 *   records fail.
 * - a record refused for good in a request of several: part of the request may be written, and kafkajs rolled back
 *   the sequence numbers of all of it. The producer session is replaced (a new producer id) before anything of
 *   those topics goes out again, and the request is split (per topic, then in halves) until only the refused records
 *   fail. Records already written are written again: at-least-once, never acknowledged without being written.
 *
 * A request is capped by bytes as well as records (the broker limits a partition's record batch to
 * max.message.bytes, 1 MB by default); a record larger than the cap goes alone.
 */
import type { Logger } from 'pino';
import { backoffDelay, retryUntil } from '../backoff.js';
import { type CancelTimer, type Clock, systemClock } from '../clock.js';
import { errorMessage, TributaryError } from '../errors.js';
import type { EngineObserver } from '../instrumentation.js';
import { type OutgoingRecord, type ProducerPort, UnwrittenRecordsError } from '../kafka/ports.js';
import { Destination, type Queued, type SendCallback } from './destination.js';
import { recordBytes } from './recordBytes.js';
import { isPermanentSendError, isTopicRefusal } from './sendErrors.js';

export type { SendCallback } from './destination.js';
export { isPermanentSendError } from './sendErrors.js';

export interface ProducerBatcherOptions {
  /** Most records in one request. Default 2000. */
  maxBatchRecords?: number;
  /** Most bytes (keys, values, headers) in one request, unless one record is larger. Default 512 KiB. */
  maxBatchBytes?: number;
  /**
   * How long a group of records may keep failing transiently, while other requests get through, before its records
   * fail. When nothing gets through (the broker is down) nothing is given up. Default 60 s.
   */
  maxRetryMs?: number;
  observer: EngineObserver;
  logger: Logger;
  /**
   * Times the retry backoff, the give-up deadline and the requests' durations. Default: the system clock (the test
   * driver passes its virtual one). Queued records still go out on the next macrotask (`setImmediate`), not on it.
   */
  clock?: Clock;
}

interface Part {
  readonly destination: Destination;
  readonly items: Queued[];
}

const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 5000;

const closedError = () => new TributaryError('TRIBUTARY_ERR_PUBLISH', 'the producer is closed', { retriable: true });

/** A partition must be a non-negative integer; kafkajs silently sends nothing for anything else. */
function badPartition(record: OutgoingRecord): boolean {
  const { partition } = record;
  return partition !== undefined && !(Number.isInteger(partition) && partition >= 0);
}

export class ProducerBatcher {
  readonly #port: ProducerPort;
  readonly #maxBatch: number;
  readonly #maxBatchBytes: number;
  readonly #maxRetryMs: number;
  readonly #observer: EngineObserver;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #destinations = new Map<string, Destination>();
  /** The destination of the last record queued: most records go where the previous one went. */
  #last: Destination | undefined;
  #closed = false;
  #sharedInFlight = false;
  #inFlight = 0;
  #scheduled = false;
  #cancelTimer: CancelTimer | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #lastSuccess = Number.NEGATIVE_INFINITY;
  /** Bytes of the records the last #take returned (saves measuring them twice). */
  #takenBytes = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(port: ProducerPort, options: ProducerBatcherOptions) {
    this.#port = port;
    this.#maxBatch = options.maxBatchRecords ?? 2000;
    this.#maxBatchBytes = options.maxBatchBytes ?? 512 * 1024;
    this.#maxRetryMs = options.maxRetryMs ?? 60_000;
    this.#observer = options.observer;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
  }

  /** Rejects everything queued or waiting to be sent again; later sends reject at once. */
  close(): void {
    this.#closed = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const error = closedError();
    for (const destination of this.#destinations.values()) {
      const waiting = [...destination.retry.flat(), ...destination.queue];
      destination.retry.length = 0;
      destination.queue.length = 0;
      for (const q of waiting) this.#settle(q, error);
    }
    this.#wakeIdle();
  }

  /** Queues a record; resolves when the broker acknowledged it (acks = all). */
  send(record: OutgoingRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.enqueue(record, (error) => (error === undefined ? resolve() : reject(error)));
    });
  }

  /**
   * Queues a record; `done` is called once, when the broker acknowledged it or refused it for good. The hot path of
   * `publish`: no Promise per record.
   */
  enqueue(record: OutgoingRecord, done: SendCallback): void {
    if (this.#closed) {
      done(closedError());
      return;
    }
    if (badPartition(record)) {
      done(
        new TributaryError('TRIBUTARY_ERR_PUBLISH', `partition ${record.partition} is not a partition number`, {
          retriable: false,
        }),
      );
      return;
    }
    let destination = this.#last;
    if (destination === undefined || destination.topic !== record.topic) {
      destination = this.#destinations.get(record.topic);
      if (destination === undefined) {
        destination = new Destination(record.topic);
        this.#destinations.set(record.topic, destination);
      }
      this.#last = destination;
    }
    destination.queue.push({ record, done });
    this.#schedule();
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    if (this.#inFlight > 0) return false;
    for (const destination of this.#destinations.values()) if (destination.pending) return false;
    return true;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // not on the clock: batching only waits for the current macrotask's sends, in real and in virtual time alike
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  /** Starts every request that can go now: the shared one, and one per topic sent on its own. */
  #pump(): void {
    if (this.#closed) {
      if (this.#inFlight === 0) this.#wakeIdle();
      return;
    }
    const now = this.#clock.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    let shared: Part[] | undefined;
    let records = 0;
    let bytes = 0;
    for (const destination of this.#destinations.values()) {
      if (destination.busy || !destination.pending) continue;
      if (destination.notBefore > now) {
        wakeAt = Math.min(wakeAt, destination.notBefore);
        continue;
      }
      const again = destination.retry.shift();
      if (again !== undefined) {
        this.#start([{ destination, items: again }], false);
        continue;
      }
      if (!destination.trusted) {
        this.#start(
          [{ destination, items: this.#take(destination, this.#maxBatch, this.#maxBatchBytes, true) }],
          false,
        );
        continue;
      }
      if (this.#sharedInFlight || records >= this.#maxBatch) continue;
      const first = shared === undefined;
      const items = this.#take(destination, this.#maxBatch - records, this.#maxBatchBytes - bytes, first);
      if (items.length === 0) continue;
      bytes += this.#takenBytes;
      records += items.length;
      if (shared === undefined) shared = [];
      shared.push({ destination, items });
    }
    if (shared !== undefined) {
      // the topics just served go to the back, so a busy topic cannot keep the others out of the shared request
      for (const { destination } of shared) {
        this.#destinations.delete(destination.topic);
        this.#destinations.set(destination.topic, destination);
      }
      this.#start(shared, true);
    }
    if (wakeAt !== Number.POSITIVE_INFINITY) this.#wakeAt(wakeAt, now);
    if (this.#isIdle()) this.#wakeIdle();
  }

  /** Takes queued records up to the limits; at least one when `atLeastOne` (a record over the cap goes alone). */
  #take(destination: Destination, maxRecords: number, maxBytes: number, atLeastOne: boolean): Queued[] {
    const queue = destination.queue;
    const limit = Math.min(maxRecords, queue.length);
    let bytes = 0;
    let count = 0;
    while (count < limit) {
      const size = recordBytes((queue[count] as Queued).record);
      if (bytes + size > maxBytes) {
        if (count === 0 && atLeastOne) {
          bytes = size;
          count = 1;
        }
        break;
      }
      bytes += size;
      count++;
    }
    this.#takenBytes = bytes;
    return queue.splice(0, count);
  }

  #wakeAt(at: number, now: number): void {
    if (this.#cancelTimer !== undefined && this.#timerAt <= at) return;
    this.#cancelTimer?.();
    this.#timerAt = at;
    this.#cancelTimer = this.#clock.setTimeout(
      () => {
        this.#cancelTimer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#pump();
      },
      Math.max(0, at - now),
    );
  }

  #start(parts: Part[], shared: boolean): void {
    for (const { destination } of parts) destination.busy = true;
    if (shared) this.#sharedInFlight = true;
    this.#inFlight++;
    this.#request(parts)
      .catch((error: unknown) => {
        // a bug here must not leave records without an outcome
        this.#logger.error({ err: error }, 'the producer batcher failed handling a request');
        for (const { items } of parts) for (const q of items) this.#settle(q, error, true);
      })
      .finally(() => {
        for (const { destination } of parts) {
          destination.busy = false;
          if (!destination.pending && !destination.trusted) this.#forget(destination);
        }
        if (shared) this.#sharedInFlight = false;
        this.#inFlight--;
        this.#schedule();
      });
  }

  async #request(parts: Part[]): Promise<void> {
    const items = parts.length === 1 ? (parts[0] as Part).items : parts.flatMap((p) => p.items);
    const started = this.#clock.now();
    let failed = false;
    let failure: unknown;
    let unwritten: readonly number[] | undefined;
    try {
      await this.#port.send(items.map((q) => q.record));
    } catch (error) {
      if (error instanceof UnwrittenRecordsError) unwritten = error.indexes;
      else {
        failed = true;
        failure = error ?? new TributaryError('TRIBUTARY_ERR_PUBLISH', 'the send failed without an error');
      }
    }
    const now = this.#clock.now();
    this.#observer.producerSent(items.length, (now - started) / 1000, !failed);
    if (!failed) {
      this.#lastSuccess = now;
      for (const { destination } of parts) destination.succeeded();
      this.#acknowledge(items, unwritten);
      return;
    }
    if (this.#closed) {
      for (const q of items) this.#settle(q, failure, true);
      return;
    }
    if (isPermanentSendError(failure)) await this.#refused(parts, items.length, failure);
    else await this.#failedForNow(parts, failure, now);
  }

  #acknowledge(items: readonly Queued[], unwritten: readonly number[] | undefined): void {
    if (unwritten === undefined) {
      for (const q of items) this.#settle(q, undefined);
      return;
    }
    const skipped = new Set(unwritten);
    for (let i = 0; i < items.length; i++) {
      const q = items[i] as Queued;
      if (!skipped.has(i)) this.#settle(q, undefined);
      else {
        const { topic, partition } = q.record;
        const error = new TributaryError('TRIBUTARY_ERR_PUBLISH', `topic ${topic} has no partition ${partition}`, {
          retriable: false,
        });
        this.#settle(q, error, true);
      }
    }
  }

  /** Refused for good. */
  async #refused(parts: Part[], records: number, error: unknown): Promise<void> {
    if (records === 1) {
      // one record, one partition, not written: nothing else to repair
      const { destination, items } = parts[0] as Part;
      if (isTopicRefusal(error)) destination.trusted = false;
      this.#settle(items[0] as Queued, error, true);
      return;
    }
    if (parts.length === 1 && isTopicRefusal(error)) {
      const { destination, items } = parts[0] as Part;
      destination.trusted = false;
      this.#logger.warn(
        { err: error, topic: destination.topic, records: records },
        `topic refused: ${errorMessage(error)}`,
      );
      for (const q of items) this.#settle(q, error, true);
      return;
    }
    // part of the request may be written and its sequence numbers are rolled back: a new producer id first
    await this.#resetSession(error, records);
    if (this.#closed) {
      for (const { items } of parts) for (const q of items) this.#settle(q, closedError(), true);
      return;
    }
    for (const { destination, items } of parts) {
      if (parts.length > 1) destination.retry.unshift(items);
      else {
        const half = Math.ceil(items.length / 2);
        destination.retry.unshift(items.slice(0, half), items.slice(half));
      }
    }
  }

  /** A transient failure: send the same groups again after a delay, unless they have failed for too long. */
  async #failedForNow(parts: Part[], error: unknown, now: number): Promise<void> {
    let givenUp: Queued[] | undefined;
    for (const { destination, items } of parts) {
      if (destination.failingSince < 0) destination.failingSince = now;
      const failingFor = now - destination.failingSince;
      if (failingFor >= this.#maxRetryMs && this.#lastSuccess > destination.failingSince) {
        this.#logger.error(
          { err: error, topic: destination.topic, records: items.length, failingForMs: Math.round(failingFor) },
          `produce kept failing while other requests got through; giving up on these records: ${errorMessage(error)}`,
        );
        destination.failingSince = -1;
        destination.trusted = false;
        if (givenUp === undefined) givenUp = [];
        givenUp.push(...items);
        continue;
      }
      const retryInMs = backoffDelay(++destination.failures, FIRST_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS);
      this.#logger.warn(
        { err: error, topic: destination.topic, records: items.length, retryInMs },
        `produce failed, re-sending the batch: ${errorMessage(error)}`,
      );
      destination.retry.unshift(items);
      destination.notBefore = now + retryInMs;
    }
    if (givenUp === undefined) return;
    // records given up on may be partly written: their topics must not go on under the rolled-back sequences
    await this.#resetSession(error, givenUp.length);
    for (const q of givenUp) {
      this.#settle(
        q,
        new TributaryError('TRIBUTARY_ERR_PUBLISH', `gave up after ${this.#maxRetryMs} ms: ${errorMessage(error)}`, {
          cause: error,
          retriable: false,
        }),
        true,
      );
    }
  }

  async #resetSession(cause: unknown, records: number): Promise<void> {
    this.#logger.warn(
      { err: cause, records },
      `a request failed after it may have been partly written (${errorMessage(cause)}); starting a new producer session`,
    );
    await retryUntil(() => this.#port.reset(), {
      initialMs: FIRST_RETRY_DELAY_MS,
      maxMs: MAX_RETRY_DELAY_MS,
      clock: this.#clock,
      stopped: () => this.#closed,
      onError: (error, retryInMs) => this.#logger.warn({ err: error, retryInMs }, 'producer reset failed; retrying'),
    });
  }

  #forget(destination: Destination): void {
    this.#destinations.delete(destination.topic);
    if (this.#last === destination) this.#last = undefined;
  }

  /**
   * Calls back `undefined` for success only: a failure thrown as `undefined` becomes an Error, so it can never pass
   * as an acknowledgement. A callback that throws is a bug in its caller; it must not keep the rest of its batch from
   * settling.
   */
  #settle(q: Queued, error: unknown, failed = error !== undefined): void {
    try {
      q.done(
        failed ? (error ?? new TributaryError('TRIBUTARY_ERR_PUBLISH', 'the send failed without an error')) : undefined,
      );
    } catch (thrown) {
      this.#logger.error({ err: thrown, topic: q.record.topic }, 'a send callback threw');
    }
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
