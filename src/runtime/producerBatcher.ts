/**
 * One shared producer for all pipelines, sending in batches: records queued while a request is in flight go out
 * together in the next request (one request at a time keeps per-partition order with an idempotent producer).
 * A transient failure (broker unreachable, leader moving) re-sends the same batch, ahead of everything queued
 * behind it, until it goes through or the batcher closes — so order holds. When a multi-record batch is refused for
 * good, its records are retried one by one so only the poison record fails.
 */
import type { Logger } from 'pino';
import type { OutgoingRecord } from '../envelope.js';
import { errorMessage, isRetriable, TributaryError } from '../errors.js';
import type { EngineObserver } from '../instrumentation.js';
import type { ProducerPort } from '../kafka/ports.js';

interface Queued {
  record: OutgoingRecord;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface ProducerBatcherOptions {
  /** Most records in one request. Default 2000. */
  maxBatchRecords?: number;
  observer: EngineObserver;
  logger: Logger;
}

/** A refusal that another attempt cannot fix (e.g. MESSAGE_TOO_LARGE). Exhausted client retries are transient. */
export function isPermanentSendError(error: unknown): boolean {
  if (error instanceof Error && error.name === 'KafkaJSNumberOfRetriesExceeded') return false;
  return !isRetriable(error);
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms).unref());

export class ProducerBatcher {
  readonly #port: ProducerPort;
  readonly #maxBatch: number;
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
    this.#observer = options.observer;
    this.#logger = options.logger;
  }

  /** Rejects everything queued or being retried; later sends reject at once. */
  close(): void {
    this.#closed = true;
    const queued = this.#queue.splice(0);
    const error = new TributaryError('TRIBUTARY_ERR_PUBLISH', 'the producer is closed', { retriable: true });
    for (const q of queued) q.reject(error);
    this.#wakeIdle();
  }

  /** Queues a record; resolves when the broker acknowledged it (acks = all). */
  send(record: OutgoingRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new TributaryError('TRIBUTARY_ERR_PUBLISH', 'the producer is closed', { retriable: true }));
        return;
      }
      this.#queue.push({ record, resolve, reject });
      this.#schedule();
    });
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
    const batch = this.#queue.splice(0, this.#maxBatch);
    try {
      await this.#sendBatch(batch);
    } finally {
      this.#sending = false;
      if (this.#queue.length > 0) this.#schedule();
      else this.#wakeIdle();
    }
  }

  async #sendBatch(batch: Queued[]): Promise<void> {
    let delay = 100;
    for (;;) {
      const started = performance.now();
      try {
        await this.#port.send(batch.map((q) => q.record));
        this.#observer.producerSent(batch.length, (performance.now() - started) / 1000, true);
        for (const q of batch) q.resolve();
        return;
      } catch (error) {
        this.#observer.producerSent(batch.length, (performance.now() - started) / 1000, false);
        if (this.#closed) {
          for (const q of batch) q.reject(error);
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
          // isolate the record the broker refuses; the others go through
          for (const q of batch) await this.#sendBatch([q]);
          return;
        }
        for (const q of batch) q.reject(error);
        return;
      }
    }
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
