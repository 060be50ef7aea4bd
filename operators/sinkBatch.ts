import { asyncScheduler, Observable, type OperatorFunction, of, type SchedulerLike, Subscription } from 'rxjs';
import * as z from 'zod';
import { type Element, type Envelope, failed, type RecordTicket, withAttempts } from '../src/envelope.js';
import { TributaryError } from '../src/errors.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { recordError } from './internal/failure.js';
import { checkOptions, functionSchema } from './internal/options.js';
import { isPromiseLike } from './internal/promiseLike.js';
import {
  type RetryAttempt,
  type RetryWithBackoffOptions,
  retryWithBackoff,
  retryWithBackoffOptionsSchema,
} from './retryWithBackoff.js';

/** The write {@link sinkBatch} runs once per batch; resolving (or returning) means every record of it is done. */
export type SinkBatchFunction<T> = (
  values: readonly T[],
  elements: readonly Envelope<T>[],
  attempt: RetryAttempt,
) => PromiseLike<void> | void;

/** Options of {@link sinkBatch}: how batches are cut, and {@link retryWithBackoff}'s options for the write. */
export interface SinkBatchOptions<T = unknown> extends Omit<RetryWithBackoffOptions<T>, 'onRetry'> {
  /** A batch is written as soon as it holds this many records. Default 100. */
  maxRecords?: number;
  /** A batch is written at the latest this many milliseconds after its first record arrived. Default 100. */
  maxWaitMs?: number;
  /** Called each time a retry of a batch is scheduled, with the error, the attempt that failed, the batch and the wait. */
  onRetry?: (error: unknown, attempt: number, elements: readonly Envelope<T>[], delayMs: number) => void;
}

/** The runtime check and reference documentation of {@link SinkBatchOptions}. */
export const sinkBatchOptionsSchema = retryWithBackoffOptionsSchema
  .extend({
    maxRecords: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('A batch is written as soon as it holds this many records. Default 100.'),
    maxWaitMs: z
      .number()
      .nonnegative()
      .optional()
      .describe('A batch is written at the latest this many milliseconds after its first record. Default 100.'),
    onRetry: functionSchema<(error: unknown, attempt: number, elements: readonly unknown[], delayMs: number) => void>(
      '(error, attempt, elements, delayMs) => void',
      "Called each time a retry of the batch is scheduled, with the error, the attempt that failed, the batch's elements and the wait. Default: none.",
    ).optional(),
  })
  .describe(
    "Options of sinkBatch(): one write per batch of records (by count or time), with retryWithBackoff's retries; " +
      "settles each record as 'sunk' once its batch was written.",
  );

/** The batch travels through retryWithBackoff as one element; nothing ever finishes it (its records are finished). */
const batchTicket: RecordTicket = {
  finished: false,
  settled: undefined,
  abandoned: false,
  finish: () => {},
  settle: () => {},
};

/**
 * Writes ok elements in batches — one call of `fn` per batch, e.g. one multi-row INSERT — then settles every record of
 * the batch as `sunk` and emits them, in arrival order.
 *
 * <span class="informal">`bufferTime(maxWaitMs, null, maxRecords)` + `concatMap(write with retries)`, where the
 * batch's result is each record's result.</span>
 *
 * A batch is cut when it holds `maxRecords` records, when `maxWaitMs` passed since its first record arrived, or when
 * the source completes; no timer runs while no record waits. Batches are written one at a time, in order (records
 * arriving meanwhile form the next batch), so a lane's records are written in order. The write is retried exactly like
 * {@link retryWithBackoff} (same options; `onRetry` receives the batch's elements). When it succeeds every record of
 * the batch is settled `'sunk'` (the end of the chain finishes it, so a later stage can still fail it) and emitted
 * with `attempts` = the tries made. When it fails for good every record of the batch becomes a failed element
 * (`TRIBUTARY_ERR_PROCESSING`, `batch write of N records failed after K attempts: …`, the batch's error as `cause`),
 * so each is dead-lettered. Failed input elements pass through at once. Keep `maxRecords` at most the pipeline's
 * `maxInFlight`, or batches are cut by time only.
 *
 * ```text
 * --a-b-c-d-----|
 *   sinkBatch(write, { maxRecords: 3, maxWaitMs: 5 })
 * ------(abc)-(d|)     write([a, b, c]) when c arrives; write([d]) when the source completes (before d's 5 ms)
 * ```
 *
 * @example
 * ```ts
 * records.pipe(
 *   validate(TranscriptionResult),
 *   sinkBatch((results) => db.query(upsertMany(results)), { name: 'transcripts.upsert', maxRecords: 200, maxWaitMs: 50 }),
 * );
 * ```
 * @see sink for one write per record
 * @param fn the write; receives the batch's values, its elements and `{ attempt, signal }`
 * @param options `maxRecords`, `maxWaitMs` and retry options (`attempts`, backoff, `timeoutMs`, `retriable`, ...)
 * @returns an operator that emits each record after its batch was written (or as a failed element)
 */
export function sinkBatch<T>(
  fn: SinkBatchFunction<T>,
  options: SinkBatchOptions<T> = {},
): OperatorFunction<Element<T>, Element<T>> {
  checkOptions('sinkBatch', sinkBatchOptionsSchema, options);
  const { name = 'sinkBatch', maxRecords = 100, maxWaitMs = 100, onRetry, ...retryOptions } = options;
  const scheduler: SchedulerLike = options.scheduler ?? asyncScheduler;
  type Batch = readonly Envelope<T>[];

  const write = retryWithBackoff<Batch, Batch>(
    (batch, _element, attempt) => {
      const done = fn(
        batch.map((el) => el.value),
        batch,
        attempt,
      );
      return isPromiseLike(done) ? Promise.resolve(done).then(() => batch) : batch;
    },
    {
      ...retryOptions,
      name,
      ...(onRetry
        ? { onRetry: (error, attempt, element, delayMs) => onRetry(error, attempt, element.value, delayMs) }
        : {}),
    },
  );

  /** The batch as one element: the first record's origin and context (for the retry's logs and retry count). */
  const asElement = (batch: Batch): Envelope<Batch> => {
    const first = batch[0] as Envelope<T>;
    return { ok: true, value: batch, attempts: 0, ticket: batchTicket, context: first.context, origin: first.origin };
  };

  const results = (batch: Batch, result: Element<Batch> | undefined): Element<T>[] => {
    if (result?.ok) {
      for (const element of batch) element.ticket.settle('sunk');
      return batch.map((element) => withAttempts(element, result.attempts));
    }
    const cause =
      result?.error ?? new TributaryError('TRIBUTARY_ERR_PROCESSING', 'failed: the batch write ended without a result');
    const attempts = result?.attempts ?? 0;
    return batch.map((element) =>
      withAttempts(
        failed(
          element,
          name,
          recordError(element, 'TRIBUTARY_ERR_PROCESSING', `batch write of ${batch.length} records ${cause.message}`, {
            cause,
            retriable: cause.retriable,
          }),
        ),
        attempts,
      ),
    );
  };

  const operator: OperatorFunction<Element<T>, Element<T>> = (source) =>
    new Observable<Element<T>>((subscriber) => {
      const running = new Subscription();
      let filling: Envelope<T>[] = [];
      let timer: Subscription | undefined;
      const cut: Batch[] = [];
      let writing = false;
      let sourceDone = false;

      const completeIfDone = () => {
        if (sourceDone && !writing && cut.length === 0 && filling.length === 0) subscriber.complete();
      };

      const writeNext = () => {
        const batch = cut.shift();
        if (batch === undefined) {
          completeIfDone();
          return;
        }
        writing = true;
        let result: Element<Batch> | undefined;
        running.add(
          of(asElement(batch))
            .pipe(write)
            .subscribe({
              next: (element) => {
                result = element;
              },
              error: (error: unknown) => subscriber.error(error),
              complete: () => {
                // still `writing` while emitting: a record that arrives synchronously meanwhile only joins a batch
                for (const element of results(batch, result)) subscriber.next(element);
                writing = false;
                writeNext();
              },
            }),
        );
      };

      const cutBatch = () => {
        timer?.unsubscribe();
        timer = undefined;
        if (filling.length === 0) return;
        cut.push(filling);
        filling = [];
        if (!writing) writeNext();
      };

      running.add(
        source.subscribe({
          next: (element) => {
            if (!element.ok) {
              subscriber.next(element);
              return;
            }
            filling.push(element);
            if (filling.length >= maxRecords) cutBatch();
            else if (timer === undefined) timer = scheduler.schedule(cutBatch, maxWaitMs);
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            sourceDone = true;
            cutBatch();
            completeIfDone();
          },
        }),
      );
      return () => {
        timer?.unsubscribe();
        running.unsubscribe();
      };
    });

  return describeStage(operator, { name, kind: 'sinkBatch' });
}
