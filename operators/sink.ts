import { type OperatorFunction, pipe, tap } from 'rxjs';
import type { Element, Envelope } from '../src/envelope.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { checkConfig } from './internal/options.js';
import { isPromiseLike } from './internal/promiseLike.js';
import {
  type RetryAttempt,
  type RetryWithBackoffConfig,
  retryWithBackoff,
  retryWithBackoffConfigSchema,
} from './retryWithBackoff.js';

/** The side effect {@link sink} runs for each ok element; resolving (or returning) means done. */
export type SinkFunction<T> = (value: T, element: Envelope<T>, attempt: RetryAttempt) => PromiseLike<void> | void;

/** Options of {@link sink}: those of {@link retryWithBackoff}; the stage name defaults to `'sink'`. */
export type SinkConfig<T = unknown> = RetryWithBackoffConfig<T>;

/** The runtime check and reference documentation of {@link SinkConfig} (the same fields as retryWithBackoff's). */
export const sinkConfigSchema = retryWithBackoffConfigSchema.describe(
  "Options of sink(): a side effect with retryWithBackoff's retries; finishes each record as 'sunk'.",
);

/**
 * Runs a side effect on each value (a database write, an HTTP call) with retries, then finishes the record as `sunk`.
 *
 * <span class="informal">`retryWithBackoff` for an effect, plus `ticket.finish('sunk')` once it succeeded.</span>
 *
 * Retries exactly like {@link retryWithBackoff} (same options; per-lane order, lanes concurrent). When the effect
 * succeeds the record's ticket is finished with outcome `'sunk'` (so its offset can be committed) and the element is
 * still emitted, unchanged, so the chain can go on (later outcomes are ignored: the first finish wins). When it
 * fails for good the element becomes a failed element (not finished: the dead-letter stage finishes it).
 *
 * ```text
 * --a--b--|
 *   sink(write)
 * --a--b--|      each emitted after write(...) resolved, its ticket finished 'sunk'
 * ```
 *
 * @example
 * ```ts
 * records.pipe(
 *   validate(CompressFinished),
 *   sink((done) => db.query('UPDATE videos SET url = $2 WHERE id = $1', [done.videoId, done.url]), { name: 'videos.update' }),
 *   branchToDlq(),
 * );
 * ```
 * @see retryWithBackoff
 * @param fn the side effect; receives the value, its element and `{ attempt, signal }`
 * @param config retry options (`attempts`, backoff, `timeoutMs`, `retryable`, `onRetry`, `scheduler`, ...)
 * @returns an operator that emits each element after its effect succeeded (or as a failed element)
 */
export function sink<T>(fn: SinkFunction<T>, config: SinkConfig<T> = {}): OperatorFunction<Element<T>, Element<T>> {
  checkConfig('sink', sinkConfigSchema, config);
  const { name = 'sink' } = config;
  return describeStage(
    pipe(
      retryWithBackoff<T, T>(
        (value, element, attempt) => {
          const done = fn(value, element, attempt);
          return isPromiseLike(done) ? Promise.resolve(done).then(() => value) : value;
        },
        { ...config, name },
      ),
      tap((element) => {
        if (element.ok) element.ticket.finish('sunk');
      }),
    ),
    { name, kind: 'sink' },
  );
}
