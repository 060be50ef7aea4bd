import {
  asyncScheduler,
  catchError,
  concatMap,
  defer,
  from,
  map,
  type Observable,
  type OperatorFunction,
  of,
  type SchedulerLike,
  throwError,
  timeout,
  timer,
} from 'rxjs';
import * as z from 'zod';
import { type Element, type Envelope, failed, withAttempts, withValue } from '../src/envelope.js';
import { errorMessage, isRetriable, TributaryError } from '../src/errors.js';
import { laneOfElement, mergeMapByLane } from '../src/lanes.js';
import { recordBindings } from '../src/logger.js';
import { stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { recordError } from './internal/failure.js';
import { checkOptions, functionSchema, schedulerSchema } from './internal/options.js';
import { isPromiseLike } from './internal/promiseLike.js';

/** What the retried function learns about the current attempt. */
export interface RetryAttempt {
  /** 1 for the first try, 2 for the first retry, ... */
  readonly attempt: number;
  /** Aborted (with the TRIBUTARY_ERR_TIMEOUT error as reason) when the attempt exceeds `timeoutMs`. */
  readonly signal: AbortSignal;
}

/** The work {@link retryWithBackoff} runs for each ok element: a value, or a Promise of one. */
export type RetryFunction<T, R> = (value: T, element: Envelope<T>, attempt: RetryAttempt) => PromiseLike<R> | R;

/** Options of {@link retryWithBackoff} (and of {@link sink}, which retries the same way). */
export interface RetryWithBackoffOptions<T = unknown> {
  /** Stage name (`[A-Za-z0-9._-]`): metric label, log binding, `tributary-stage` header. Default `'retryWithBackoff'`. */
  name?: string;
  /** Total tries, the first one included (1 = no retry). Default 3. */
  attempts?: number;
  /** Backoff cap before the first retry, in milliseconds. Default 200. */
  initialDelayMs?: number;
  /** Largest backoff, in milliseconds. Default 5000. */
  maxDelayMs?: number;
  /** Growth of the backoff cap per retry: cap(n) = min(maxDelayMs, initialDelayMs × multiplier^(n−1)). Default 2. */
  multiplier?: number;
  /** `'full'`: wait a uniformly random time in [0, cap(n)] (AWS "full jitter"); `'none'`: wait cap(n). Default `'full'`. */
  jitter?: 'full' | 'none';
  /**
   * Per-attempt time limit in milliseconds; an attempt that has not settled fails with TRIBUTARY_ERR_TIMEOUT
   * (retriable) and its `signal` is aborted. Default {@link DEFAULT_ATTEMPT_TIMEOUT_MS} (30 s). `0` or `Infinity`:
   * no limit — only for a function that is sure to settle, since a hung attempt then holds its lane for ever.
   */
  timeoutMs?: number;
  /** Whether an error may be retried. Default `isRetriable` (TributaryError.retriable; parse and validation errors are not). */
  retriable?: (error: unknown) => boolean;
  /** Called each time a retry is scheduled, with the error, the attempt that failed (1-based) and the wait. Default: none. */
  onRetry?: (error: unknown, attempt: number, element: Envelope<T>, delayMs: number) => void;
  /** Scheduler for the backoff waits and timeouts. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Random source in [0, 1) for the jitter (tests inject one). Default `Math.random`. */
  random?: () => number;
}

/**
 * The default per-attempt timeout. Without one a call that never settles (a dropped connection with no socket
 * timeout) blocks its lane for ever: with `partition` ordering the whole partition, with `key`/`unordered` ordering a
 * stuck head that pins the partition's commit while the rest flows on. 30 s is longer than a healthy call to an HTTP
 * service or a database takes (common client defaults are 30–60 s), and short enough that the default 3 attempts
 * plus backoff (at most ~100 s) end well within the few minutes after which the engine reports a record as stuck.
 */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 30_000;

/** Whether `timeoutMs` asks for a limit at all (`0` and `Infinity` mean none). */
const limits = (timeoutMs: number): boolean => timeoutMs > 0 && Number.isFinite(timeoutMs);

/** The runtime check and reference documentation of {@link RetryWithBackoffOptions}. */
export const retryWithBackoffOptionsSchema = z
  .strictObject({
    name: stageNameSchema.optional(),
    attempts: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Total tries, the first one included (1 = no retry). Default 3.'),
    initialDelayMs: z
      .number()
      .nonnegative()
      .optional()
      .describe('Backoff cap before the first retry, in milliseconds. Default 200.'),
    maxDelayMs: z.number().nonnegative().optional().describe('Largest backoff, in milliseconds. Default 5000.'),
    multiplier: z
      .number()
      .min(1)
      .optional()
      .describe('Growth of the backoff cap per retry: min(maxDelayMs, initialDelayMs × multiplier^(n−1)). Default 2.'),
    jitter: z
      .enum(['full', 'none'])
      .optional()
      .describe("'full': wait a uniformly random time in [0, cap]; 'none': wait the cap. Default 'full'."),
    timeoutMs: z
      .union([z.number().nonnegative(), z.literal(Number.POSITIVE_INFINITY)])
      .optional()
      .describe(
        'Per-attempt time limit in milliseconds; exceeding it fails the attempt with TRIBUTARY_ERR_TIMEOUT. Default 30000; 0 or Infinity: none.',
      ),
    retriable: functionSchema<(error: unknown) => boolean>(
      '(error) => boolean',
      'Whether an error may be retried. Default: isRetriable (parse and validation errors are not).',
    ).optional(),
    onRetry: functionSchema<(error: unknown, attempt: number, element: Envelope<unknown>, delayMs: number) => void>(
      '(error, attempt, element, delayMs) => void',
      'Called each time a retry is scheduled, with the error, the attempt that failed (1-based) and the wait. Default: none.',
    ).optional(),
    scheduler: schedulerSchema.optional(),
    random: functionSchema<() => number>(
      '() => number',
      'Random source in [0, 1) for the jitter (tests inject one). Default Math.random.',
    ).optional(),
  })
  .describe('Options of retryWithBackoff(): bounded retries with exponential backoff and jitter.');

/**
 * Runs an asynchronous (or synchronous) function on each value, retrying failures with exponential backoff.
 *
 * <span class="informal">Like `concatMap` per ordering lane, with bounded retries; failures become failed
 * elements.</span>
 *
 * Elements of one lane (partition, key, or record, per the pipeline's ordering) are processed one at a time in
 * arrival order; different lanes run concurrently. An attempt that throws, rejects or exceeds `timeoutMs` (default
 * 30 s) is retried
 * while attempts remain and `retriable(error)` holds, after a wait of `random(0, cap(n))` with full jitter or
 * `cap(n)` without, where cap(n) = min(maxDelayMs, initialDelayMs × multiplier^(n−1)). The wait is a scheduler timer,
 * never a busy loop, so the consumer keeps heartbeating. The output element holds the function's result and
 * `attempts` = the tries made. When attempts run out or the error is not retriable, the element fails with the
 * thrown TributaryError's code (TRIBUTARY_ERR_PROCESSING for any other error) and a message that says
 * `after N attempts`. Failed input elements pass through untouched, in lane order.
 *
 * ```text
 * --a--b------|         fn throws once on a; b is in a's lane, so it waits behind a
 *   retryWithBackoff(fn, { initialDelayMs: 10, jitter: 'none' })
 * ------------(AB|)      frame 12 = 2 + 10: A = fn(a) with attempts 2, B = fn(b) with attempts 1
 * ```
 *
 * @example
 * ```ts
 * records.pipe(
 *   validate(TranscriptRequested),
 *   retryWithBackoff((request, _element, { signal }) => transcribe(request, { signal }), {
 *     attempts: 3, initialDelayMs: 200, maxDelayMs: 5_000, timeoutMs: 30_000,
 *   }),
 * );
 * ```
 * @see sink for a side effect that finishes the record
 * @param fn the work for one value; receives the value, its element, and `{ attempt, signal }`
 * @param options attempts, backoff, timeout, retry predicate, hook, scheduler
 * @returns an operator whose ok elements hold `fn`'s result
 */
export function retryWithBackoff<T, R>(
  fn: RetryFunction<T, R>,
  options: RetryWithBackoffOptions<T> = {},
): OperatorFunction<Element<T>, Element<R>> {
  checkOptions('retryWithBackoff', retryWithBackoffOptionsSchema, options);
  const {
    name = 'retryWithBackoff',
    attempts = 3,
    initialDelayMs = 200,
    maxDelayMs = 5_000,
    multiplier = 2,
    jitter = 'full',
    timeoutMs = DEFAULT_ATTEMPT_TIMEOUT_MS,
    retriable = isRetriable,
    onRetry,
    scheduler = asyncScheduler,
    random = Math.random,
  } = options;

  /** The wait after failed attempt `attempt` (1-based). */
  const backoff = (attempt: number): number => {
    const cap = Math.min(maxDelayMs, initialDelayMs * multiplier ** (attempt - 1));
    if (jitter === 'none') return cap;
    return Math.min(cap, Math.max(0, Math.floor(random() * (cap + 1))));
  };

  /** One try: the function's result, or an error (thrown, rejected, or a timeout). */
  const tryOnce = (element: Envelope<T>, attempt: number): Observable<R> =>
    defer(() => {
      const controller = new AbortController();
      const result = fn(element.value, element, { attempt, signal: controller.signal });
      const settled = isPromiseLike<R>(result) ? from(result) : of(result);
      if (!limits(timeoutMs)) return settled;
      return settled.pipe(
        timeout({
          first: timeoutMs,
          scheduler,
          with: () => {
            const error = recordError(
              element,
              'TRIBUTARY_ERR_TIMEOUT',
              `attempt ${attempt} did not settle within ${timeoutMs} ms`,
            );
            controller.abort(error);
            return throwError(() => error);
          },
        }),
      );
    });

  const mayRetry = (error: unknown, attempt: number, element: Envelope<T>): boolean => {
    if (attempt >= attempts) return false;
    try {
      return retriable(error);
    } catch (predicateError) {
      element.context.logger.error(
        { stage: name, ...recordBindings(element.origin), err: predicateError },
        'retryWithBackoff: retriable() threw; not retrying',
      );
      return false;
    }
  };

  const giveUp = (element: Envelope<T>, error: unknown, attempt: number, exhausted: boolean): Element<R> => {
    const tries = `after ${attempt} attempt${attempt === 1 ? '' : 's'}`;
    const why = exhausted ? '' : ' (not retriable)';
    const message = `failed ${tries}${why}: ${errorMessage(error)}`;
    const original = error instanceof TributaryError ? error : undefined;
    const reason = recordError(element, original?.code ?? 'TRIBUTARY_ERR_PROCESSING', message, {
      cause: error,
      details: original?.details,
      retriable: original?.retriable,
    });
    return withAttempts(failed(element, name, reason), attempt);
  };

  const run = (element: Envelope<T>, attempt: number): Observable<Element<R>> =>
    tryOnce(element, attempt).pipe(
      map((result) => withAttempts(withValue(element, result), attempt)),
      catchError((error: unknown) => {
        if (!mayRetry(error, attempt, element)) return of(giveUp(element, error, attempt, attempt >= attempts));
        const delayMs = backoff(attempt);
        element.context.logger.debug(
          { stage: name, ...recordBindings(element.origin), attempt, delayMs, err: error },
          'retryWithBackoff: attempt failed; retrying',
        );
        element.context.recordRetry(name);
        if (onRetry) {
          try {
            onRetry(error, attempt, element, delayMs);
          } catch (hookError) {
            element.context.logger.error(
              { stage: name, ...recordBindings(element.origin), err: hookError },
              'retryWithBackoff: onRetry threw',
            );
          }
        }
        return timer(delayMs, scheduler).pipe(concatMap(() => run(element, attempt + 1)));
      }),
    );

  return describeStage(
    mergeMapByLane(
      (element: Element<T>): Observable<Element<R>> => (element.ok ? run(element, 1) : of(element)),
      laneOfElement,
    ),
    { name, kind: 'retryWithBackoff' },
  );
}
