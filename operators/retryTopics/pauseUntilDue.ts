/**
 * Pause-until-due for delay topics, at the client port: a wrapper around a KafkaClientPort whose consumers hand the
 * engine only the records that are (nearly) due, and pause a partition whose head record is not, resuming it shortly
 * before that record's `tributary-retry-due` time. A waiting record then holds no admission credit and nothing is
 * fetched for it; the `awaitRetryDue` stage of the retry pipeline times the last few seconds exactly.
 */
import { TributaryError } from '../../src/errors.js';
import { readDecimalHeader } from '../../src/kafka/headers.js';
import type {
  BatchHandler,
  ConsumedRecord,
  ConsumerOptions,
  ConsumerPort,
  KafkaClientPort,
  TopicPartition,
} from '../../src/kafka/ports.js';
import { RETRY_HEADERS } from './topics.js';

export interface PauseUntilDueOptions {
  /**
   * Records due within this many milliseconds are handed over at once (and wait on `awaitRetryDue`'s timer); a
   * partition is resumed this long before its head record is due. Keep it at least the consumer's fetch wait (the
   * pipeline's `consumer.maxWaitTimeMs`, default 500 ms): while every partition of a broker is paused the client
   * sleeps that long between fetches. Default 5000.
   */
  windowMs?: number;
  /** Clock, epoch milliseconds (tests). Default `Date.now`. */
  now?: () => number;
  /** Timer (tests). Default `setTimeout` (unref'd). Returns a canceller. */
  schedule?: (fn: () => void, ms: number) => () => void;
}

function dueOf(record: ConsumedRecord): number | undefined {
  const due = readDecimalHeader(record.headers[RETRY_HEADERS.due]);
  return due === undefined ? undefined : Number(due);
}

const defaultSchedule = (fn: () => void, ms: number): (() => void) => {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

class PausingConsumer implements ConsumerPort {
  readonly #inner: ConsumerPort;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #schedule: (fn: () => void, ms: number) => () => void;
  readonly #timers = new Map<string, () => void>();

  constructor(inner: ConsumerPort, options: Required<PauseUntilDueOptions>) {
    this.#inner = inner;
    this.#windowMs = options.windowMs;
    this.#now = options.now;
    this.#schedule = options.schedule;
  }

  connect(): Promise<void> {
    return this.#inner.connect();
  }
  subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void> {
    return this.#inner.subscribe(topics, fromBeginning);
  }
  commit(...args: Parameters<ConsumerPort['commit']>): Promise<void> {
    return this.#inner.commit(...args);
  }
  pause(partitions: readonly TopicPartition[]): void {
    this.#inner.pause(partitions);
  }
  resume(partitions: readonly TopicPartition[]): void {
    this.#inner.resume(partitions);
  }
  onAssigned(...args: Parameters<ConsumerPort['onAssigned']>): () => void {
    return this.#inner.onAssigned(...args);
  }
  onRebalancing(...args: Parameters<ConsumerPort['onRebalancing']>): () => void {
    return this.#inner.onRebalancing(...args);
  }
  onFatal(...args: Parameters<ConsumerPort['onFatal']>): () => void {
    return this.#inner.onFatal(...args);
  }
  onInterrupted(...args: Parameters<ConsumerPort['onInterrupted']>): () => void {
    return this.#inner.onInterrupted(...args);
  }
  onUnsubscribedTopics(...args: Parameters<ConsumerPort['onUnsubscribedTopics']>): () => void {
    return this.#inner.onUnsubscribedTopics(...args);
  }
  onEmptyBatch(...args: Parameters<ConsumerPort['onEmptyBatch']>): () => void {
    return this.#inner.onEmptyBatch(...args);
  }
  async disconnect(): Promise<void> {
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
    await this.#inner.disconnect();
  }

  run(handler: BatchHandler): Promise<void> {
    return this.#inner.run(async (batch, control) => {
      const horizon = this.#now() + this.#windowMs;
      const cut = batch.records.findIndex((record) => (dueOf(record) ?? 0) > horizon);
      if (cut === -1) {
        await handler(batch, control);
        return;
      }
      const head = batch.records[cut] as ConsumedRecord;
      if (cut > 0) {
        // the engine admits the due records; its position (and commits) stop at the first record not due
        await handler({ ...batch, records: batch.records.slice(0, cut), endOffset: head.offset }, control);
      }
      // Nothing resolved past `head`: after the resume the next fetch starts at it again.
      this.#pauseUntil({ topic: batch.topic, partition: batch.partition }, (dueOf(head) ?? 0) - this.#windowMs);
    });
  }

  #pauseUntil(tp: TopicPartition, resumeAt: number): void {
    const key = `${tp.topic}\u0000${tp.partition}`;
    this.#timers.get(key)?.();
    this.#inner.pause([tp]);
    const cancel = this.#schedule(
      () => {
        this.#timers.delete(key);
        this.#inner.resume([tp]);
      },
      Math.max(0, resumeAt - this.#now()),
    );
    this.#timers.set(key, cancel);
  }
}

/**
 * Wraps a client so that its consumers pause delay-topic partitions until their head record is nearly due (Spring's
 * `KafkaConsumerBackoffManager` idea). Records without a `tributary-retry-due` header pass through untouched, so the
 * wrapped client can serve every pipeline of an engine.
 *
 * @example
 * ```ts
 * const kafka = { client: pauseUntilDue(createKafkajsClient({ brokers, logger })) };
 * createEngine({ kafka, pipelines: [main, ...retryTopicPipelines(main, retries)] });
 * ```
 * @param client the client the engine would use
 * @param options the window (records due within it are handed over at once), clock and timer
 * @returns a client whose consumers pause until due
 */
export function pauseUntilDue(client: KafkaClientPort, options: PauseUntilDueOptions = {}): KafkaClientPort {
  const { windowMs = 5000, now = Date.now, schedule = defaultSchedule } = options;
  if (!Number.isFinite(windowMs) || windowMs < 0) {
    throw new TributaryError(
      'TRIBUTARY_ERR_PIPELINE_DEFINITION',
      'pauseUntilDue: invalid options: windowMs must be ≥ 0',
    );
  }
  return {
    consumer: (consumerOptions: ConsumerOptions) =>
      new PausingConsumer(client.consumer(consumerOptions), { windowMs, now, schedule }),
    producer: (producerOptions) => client.producer(producerOptions),
    admin: () => client.admin(),
  };
}
