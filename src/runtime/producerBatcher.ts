/**
 * One shared producer for all pipelines, sending in batches: records queued while a request is in flight go out
 * together in the next request (one request at a time keeps per-partition order with an idempotent producer).
 * A transient failure (broker unreachable, leader moving) re-sends the same batch, ahead of everything queued
 * behind it, until it goes through or the batcher closes — so order holds. When a multi-record batch is refused for
 * good, the producer session is reset (kafkajs rolls back the sequence numbers of every partition in a request that
 * failed for one of them) and its records are retried one by one so only the poison record fails. A request is capped
 * by bytes as well as records (the broker limits a partition's record batch to max.message.bytes, 1 MB by
 * default); a record larger than the cap goes alone.
 */
import type { Logger } from 'pino';
import type { OutgoingRecord } from '../envelope.js';
import { errorMessage, isRetriable, TributaryError } from '../errors.js';
import type { EngineObserver } from '../instrumentation.js';
import type { ProducerPort } from '../kafka/ports.js';

/** Called once per record: without an error when the broker acknowledged it, with the refusal otherwise. */
export type SendCallback = (error?: unknown) => void;

interface Queued {
  record: OutgoingRecord;
  done: SendCallback;
}

export interface ProducerBatcherOptions {
  /** Most records in one request. Default 2000. */
  maxBatchRecords?: number;
  /** Most bytes (keys, values, headers) in one request, unless one record is larger. Default 512 KiB. */
  maxBatchBytes?: number;
  observer: EngineObserver;
  logger: Logger;
}

/** A refusal that another attempt cannot fix (e.g. MESSAGE_TOO_LARGE). Exhausted client retries are transient. */
export function isPermanentSendError(error: unknown): boolean {
  if (error instanceof Error && error.name === 'KafkaJSNumberOfRetriesExceeded') return false;
  return !isRetriable(error);
}

function byteLength(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/** Approximate wire size of a record; only needs to be good enough to keep a request under the broker's limit. */
function recordBytes(record: OutgoingRecord): number {
  let bytes = byteLength(record.key) + byteLength(record.value) + 16;
  const headers = record.headers;
  if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name];
      bytes += name.length;
      if (Array.isArray(value)) for (const v of value) bytes += byteLength(v as Buffer | string);
      else bytes += byteLength(value as Buffer | string | undefined);
    }
  }
  return bytes;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms).unref());

export class ProducerBatcher {
  readonly #port: ProducerPort;
  readonly #maxBatch: number;
  readonly #maxBatchBytes: number;
  readonly #observer: EngineObserver;
  readonly #logger: Logger;
  #closed = false;
  #queue: Queued[] = [];
  #sending = false;
  #scheduled = false;
  #idleWaiters: (() => void)[] = [];

  constructor(port: ProducerPort, options: ProducerBatcherOptions) {
    this.#port = port;
    this.#maxBatch = options.maxBatchRecords ?? 2000;
    this.#maxBatchBytes = options.maxBatchBytes ?? 512 * 1024;
    this.#observer = options.observer;
    this.#logger = options.logger;
  }

  /** Rejects everything queued or being retried; later sends reject at once. */
  close(): void {
    this.#closed = true;
    const queued = this.#queue.splice(0);
    const error = new TributaryError('TRIBUTARY_ERR_PUBLISH', 'the producer is closed', { retriable: true });
    for (const q of queued) this.#settle(q, error);
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
      done(new TributaryError('TRIBUTARY_ERR_PUBLISH', 'the producer is closed', { retriable: true }));
      return;
    }
    this.#queue.push({ record, done });
    this.#schedule();
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.#sending && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #schedule(): void {
    if (this.#sending || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#sending) return;
    if (this.#queue.length === 0) {
      this.#wakeIdle();
      return;
    }
    this.#sending = true;
    const batch = this.#queue.splice(0, this.#batchLength());
    try {
      await this.#sendBatch(batch);
    } finally {
      this.#sending = false;
      if (this.#queue.length > 0) this.#schedule();
      else this.#wakeIdle();
    }
  }

  /** How many queued records the next request takes: up to maxBatchRecords and maxBatchBytes, at least one. */
  #batchLength(): number {
    let bytes = 0;
    const limit = Math.min(this.#maxBatch, this.#queue.length);
    for (let i = 0; i < limit; i++) {
      const q = this.#queue[i];
      if (q === undefined) return i;
      bytes += recordBytes(q.record);
      if (bytes > this.#maxBatchBytes) return Math.max(1, i);
    }
    return limit;
  }

  async #sendBatch(batch: Queued[]): Promise<void> {
    let delay = 100;
    for (;;) {
      const started = performance.now();
      try {
        await this.#port.send(batch.map((q) => q.record));
        this.#observer.producerSent(batch.length, (performance.now() - started) / 1000, true);
        for (const q of batch) this.#settle(q, undefined);
        return;
      } catch (error) {
        this.#observer.producerSent(batch.length, (performance.now() - started) / 1000, false);
        if (this.#closed) {
          for (const q of batch) this.#settle(q, error, true);
          return;
        }
        if (!isPermanentSendError(error)) {
          this.#logger.warn(
            { err: error, records: batch.length, retryInMs: delay },
            `produce failed, re-sending the batch: ${errorMessage(error)}`,
          );
          await sleep(delay);
          delay = Math.min(delay * 2, 5000);
          continue;
        }
        if (batch.length > 1) {
          // part of the request may have been written: start a clean producer session, then isolate the record
          // the broker refuses; the others go through (a record already written is written again: at-least-once)
          await this.#resetSession(error);
          for (const q of batch) await this.#sendBatch([q]);
          return;
        }
        for (const q of batch) this.#settle(q, error, true);
        return;
      }
    }
  }

  async #resetSession(cause: unknown): Promise<void> {
    this.#logger.warn(
      { err: cause },
      `a batch was refused (${errorMessage(cause)}); resetting the producer session and sending its records one by one`,
    );
    let delay = 100;
    while (!this.#closed) {
      try {
        await this.#port.reset();
        return;
      } catch (error) {
        this.#logger.warn({ err: error, retryInMs: delay }, 'producer reset failed; retrying');
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
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
