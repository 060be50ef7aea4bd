/**
 * What flows through a pipeline. Every consumed record becomes an `Envelope` carrying its value *and* its origin;
 * a failure never errors the Observable — it becomes a `FailedEnvelope` that keeps the origin (raw bytes included)
 * so it can be dead-lettered. Each record ends in exactly one `Outcome`, reported through its `ticket`.
 */
import type { Logger } from 'pino';
import type { TributaryError } from './errors.js';
import type { OutgoingRecord, RecordHeaders } from './kafka/ports.js';

/** How a record finished. Only finished records are ever committed. */
export type Outcome = 'published' | 'dead_lettered' | 'filtered' | 'sunk';

/** Where a record came from: everything needed to dead-letter, replay or log it. */
export interface RecordOrigin {
  readonly pipeline: string;
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  /** int64 offset of the record in its partition. */
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly headers: RecordHeaders;
  /** Record timestamp, milliseconds since the epoch, as Kafka gives it. */
  readonly timestamp: string;
  /** The original value bytes; null for a tombstone. */
  readonly raw: Buffer | null;
  /** The `correlation-id` header when present, else `<topic>-<partition>-<offset>`. */
  readonly correlationId: string;
  /**
   * The ordering lane: elements of one lane are processed one at a time, in order, by every asynchronous stage.
   * `partition` ordering: one lane per partition; `key`: per partition and key; `unordered`: one lane per record.
   */
  readonly lane: string;
}

/** What a stage that completes a record's effect reports before passing the element on. */
export type SettledOutcome = 'published' | 'sunk';

/**
 * The record's single completion handle. `finish` is final: the first one wins, later calls are ignored. A stage
 * that drops an element finishes it (`filtered`, `dead_lettered`); a stage that completed an effect and passes the
 * element on (`publish`, `sink`) only `settle`s it — the record finishes with its last settled outcome when it leaves
 * the chain, so a later stage can still fail it (and its offset is not committable before the last stage is done).
 */
export interface RecordTicket {
  readonly finished: boolean;
  /** The outcome a stage settled the record with, if any (the end of the chain finishes it with this). */
  readonly settled: SettledOutcome | undefined;
  /**
   * True once the record's partition was taken from this consumer (a rebalance or a stop): its outcome can no longer
   * be committed by this run, and the partition's owner receives the record again.
   */
  readonly abandoned: boolean;
  finish(outcome: Outcome): void;
  settle(outcome: SettledOutcome): void;
}

/** What a stage may use from the running pipeline: producing, dead-lettering, logging. */
export interface PipelineContext {
  readonly pipeline: string;
  readonly groupId: string;
  readonly deadLetterTopic: string;
  readonly logger: Logger;
  /** Queues a record for the shared, batching producer; resolves when the broker acknowledged it. */
  send(record: OutgoingRecord): Promise<void>;
  /**
   * `send` without a Promise (the per-record hot path of `publish`): `done` is called once, with no argument when the
   * broker acknowledged the record, with the error when it was refused for good.
   */
  enqueue(record: OutgoingRecord, done: (error?: unknown) => void): void;
  /** Publishes a failed element to the dead-letter topic (retrying until acknowledged) and finishes it. */
  deadLetter(failed: FailedEnvelope, topic?: string): Promise<void>;
  /** Counts one more attempt scheduled by a retrying stage (the `tributary_retries_total` metric). */
  recordRetry(stage: string): void;
}

/** What an ok and a failed element share: the record's origin, its attempts, its ticket and its pipeline's context. */
export interface EnvelopeBase {
  readonly origin: RecordOrigin;
  /** How many times a retrying stage has run this record (0 before any). */
  readonly attempts: number;
  readonly ticket: RecordTicket;
  readonly context: PipelineContext;
}

/** A record being processed successfully so far; `value` is typed by the stages before it. */
export interface Envelope<T> extends EnvelopeBase {
  readonly ok: true;
  readonly value: T;
}

/** A record that failed at `stage`; it flows on untouched until a dead-letter stage (or the pipeline's end). */
export interface FailedEnvelope extends EnvelopeBase {
  readonly ok: false;
  readonly stage: string;
  readonly error: TributaryError;
}

export type Element<T> = Envelope<T> | FailedEnvelope;

/** The raw value of a consumed record, before any parsing. */
export type RawValue = Buffer | null;

export function withValue<T, U>(element: Envelope<T>, value: U): Envelope<U> {
  return { ...element, value };
}

export function failed(element: Element<unknown>, stage: string, error: TributaryError): FailedEnvelope {
  return {
    ok: false,
    stage,
    error,
    origin: element.origin,
    attempts: element.attempts,
    ticket: element.ticket,
    context: element.context,
  };
}

/**
 * `inner`, plus `onFinish(outcome)` called once, right after the record's first finish through the returned ticket:
 * for a stage that must act when a record it passed on finishes (dedupe remembering its id, a lane letting the next
 * record in). Everything else is `inner`'s.
 */
export function observedTicket(inner: RecordTicket, onFinish: (outcome: Outcome) => void): RecordTicket {
  return {
    get finished() {
      return inner.finished;
    },
    get settled() {
      return inner.settled;
    },
    get abandoned() {
      return inner.abandoned;
    },
    settle: (outcome) => inner.settle(outcome),
    finish(outcome) {
      const first = !inner.finished;
      inner.finish(outcome);
      if (first) onFinish(outcome);
    },
  };
}

export function withAttempts<T extends Element<unknown>>(element: T, attempts: number): T {
  return { ...element, attempts };
}
