import { type OperatorFunction, pipe, tap } from 'rxjs';
import type { Element, Envelope } from '../src/envelope.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { checkOptions } from './internal/options.js';
import { isPromiseLike } from './internal/promiseLike.js';
import {
  type RetryAttempt,
  type RetryWithBackoffOptions,
  retryWithBackoff,
  retryWithBackoffOptionsSchema,
} from './retryWithBackoff.js';

/** The side effect {@link sink} runs for each ok element; resolving (or returning) means done. */
export type SinkFunction<T> = (value: T, element: Envelope<T>, attempt: RetryAttempt) => PromiseLike<void> | void;

/** Options of {@link sink}: those of {@link retryWithBackoff}; the stage name defaults to `'sink'`. */
export type SinkOptions<T = unknown> = RetryWithBackoffOptions<T>;

/** The runtime check and reference documentation of {@link SinkOptions} (the same fields as retryWithBackoff's). */
export const sinkOptionsSchema = retryWithBackoffOptionsSchema.describe(
  "Options of sink(): a side effect with retryWithBackoff's retries; settles each record as 'sunk'.",
);

/**
 * Runs a side effect on each value (a database write, an HTTP call) with retries, then settles the record as `sunk`.
 *
 * <span class="informal">`retryWithBackoff` for an effect, plus `ticket.settle('sunk')` once it succeeded.</span>
 *
 * Retries exactly like {@link retryWithBackoff} (same options; per-lane order, lanes concurrent). When the effect
 * succeeds the record's ticket is settled as `'sunk'` and the element is emitted, unchanged. Settling is not
 * finishing: the chain can go on, and the record finishes — its offset becomes committable — only when it leaves the
 * chain, with the last outcome a stage settled (a later `publish` makes it `published`); a later stage that fails it
 * sends it to the dead-letter topic instead. When the effect fails for good the element becomes a failed element
 * (the dead-letter stage finishes it).
 *
 * ```text
 * --a--b--|
 *   sink(write)
 * --a--b--|      each emitted after write(...) resolved, its ticket settled 'sunk'
 * ```
 *
 * @example
 * ```ts
 * records.pipe(
 *   validate(CompressFinished),
 *   sink((done) => db.query('UPDATE videos SET url = $2 WHERE id = $1', [done.videoId, done.url]), { name: 'videos.update' }),
 *   branchToDeadLetter(),
 * );
 * ```
 * @see retryWithBackoff
 * @see sinkBatch for one write per batch of records
 * @param fn the side effect; receives the value, its element and `{ attempt, signal }`
 * @param options retry options (`attempts`, backoff, `timeoutMs`, `retriable`, `onRetry`, `scheduler`, ...)
 * @returns an operator that emits each element after its effect succeeded (or as a failed element)
 */
export function sink<T>(fn: SinkFunction<T>, options: SinkOptions<T> = {}): OperatorFunction<Element<T>, Element<T>> {
  checkOptions('sink', sinkOptionsSchema, options);
  const { name = 'sink' } = options;
  return describeStage(
    pipe(
      retryWithBackoff<T, T>(
        (value, element, attempt) => {
          const done = fn(value, element, attempt);
          return isPromiseLike(done) ? Promise.resolve(done).then(() => value) : value;
        },
        { ...options, name },
      ),
      tap((element) => {
        // settle, not finish: a later stage may still fail the record (the end of the chain finishes it)
        if (element.ok) element.ticket.settle('sunk');
      }),
    ),
    { name, kind: 'sink' },
  );
}
