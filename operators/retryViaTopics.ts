import { asyncScheduler, catchError, defer, EMPTY, mergeMap, type Observable, type OperatorFunction, of } from 'rxjs';
import * as z from 'zod';
import { type Element, type Envelope, type FailedEnvelope, failed, withAttempts } from '../src/envelope.js';
import { errorMessage, isRetriable } from '../src/errors.js';
import { int32Header, int64Header, truncateUtf8 } from '../src/kafka/headers.js';
import type { HeaderValue } from '../src/kafka/ports.js';
import { laneOfElement, mergeMapByLane } from '../src/lanes.js';
import { recordBindings } from '../src/logger.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { recordError } from './internal/failure.js';
import { checkOptions, functionSchema } from './internal/options.js';
import {
  originCoordinates,
  RETRY_HEADERS,
  type RetryState,
  type RetryTopicsOptions,
  readRetryState,
  retryPlan,
  retryTopicName,
  retryTopicsShape,
  withoutRetryHeaders,
} from './retryTopics/topics.js';
import {
  type RetryFunction,
  type RetryWithBackoffOptions,
  retryWithBackoff,
  retryWithBackoffOptionsSchema,
} from './retryWithBackoff.js';

/**
 * Options of {@link retryViaTopics}: the delay topics, and {@link retryWithBackoff}'s options for the tries of each
 * round (`inProcessAttempts` in place of `attempts`). Pass the same `delays` and `topicPrefix` to
 * `retryTopicPipelines`.
 */
export interface RetryViaTopicsOptions
  extends RetryTopicsOptions,
    Omit<RetryWithBackoffOptions, 'name' | 'attempts' | 'onRetry' | 'retriable'> {
  /** Stage name (`[A-Za-z0-9._-]`): metric label, log binding, `tributary-stage` header. Default `'retryViaTopics'`. */
  name?: string;
  /** Tries per round before the record moves on to the next delay topic (1 = no in-process retry). Default 1. */
  inProcessAttempts?: number;
  /** Whether an error may be retried, in process and through the delay topics. Default `isRetriable`. */
  retriable?: (error: unknown) => boolean;
}

/** The runtime check and reference documentation of {@link RetryViaTopicsOptions}. */
export const retryViaTopicsOptionsSchema = retryWithBackoffOptionsSchema
  .omit({ attempts: true, onRetry: true })
  .extend({
    ...retryTopicsShape,
    inProcessAttempts: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Tries per round before the record moves on to the next delay topic (1 = none in process). Default 1.'),
    retriable: functionSchema<(error: unknown) => boolean>(
      '(error) => boolean',
      'Whether an error may be retried, in process and through the delay topics. Default: isRetriable.',
    ).optional(),
  })
  .describe('Options of retryViaTopics(): non-blocking retries through delay topics, then the dead-letter topic.');

const MAX_REASON_BYTES = 1024;

/**
 * Runs an asynchronous step per record; a record that keeps failing is sent to a delay topic instead of holding its
 * partition, and retried there when due (Spring Kafka's non-blocking retries, `@RetryableTopic`).
 *
 * <span class="informal">`retryWithBackoff` for the first tries, then `<topic>.retry.<delay>` topics, then the
 * dead-letter topic.</span>
 *
 * Each ok element runs `fn` with {@link retryWithBackoff} (`inProcessAttempts` tries, default 1, with its backoff
 * options), one at a time per ordering lane. When it still fails with a retriable error, the ORIGINAL record (its raw
 * value bytes, key and headers) is published to the delay topic of the next round, `<topicPrefix or original
 * topic>.retry.<delay>`, with the headers `tributary-retry-attempt` (the round, 1-based), `tributary-retry-due`
 * (epoch ms: now + delay), `tributary-retry-delay`, `tributary-retry-reason`, `tributary-attempts` (tries so far),
 * `tributary-original-topic` and Spring's `kafka_original-topic`/`-partition`/`-offset`/`-timestamp` (a retry record
 * whose own `kafka_original-partition`/`-offset` were missing or invalid is forwarded without `kafka_original-topic`,
 * `-partition` and `-offset`, so the next hop names its own copy instead of a mix); once the broker acknowledged it
 * the record finishes as `published` and is not emitted — the source partition moves on at once. The pipelines made
 * by `retryTopicPipelines(...)` consume the delay topics and run the chain again when a record is due; there this
 * stage reads the round from the headers. After the last delay the record fails (the last error's code, `attempts` =
 * every try of every round) and flows on to the dead-letter stage. A non-retriable error fails at once. A delay-topic
 * publish the broker refuses for good fails the record (TRIBUTARY_ERR_PUBLISH).
 *
 * Trade-offs (as with Spring): a retried record loses its order relative to later records of its key, and the retry
 * pipelines re-run the whole chain on the original bytes, so stages before this one must be free of side effects
 * (parse, validate, map: fine; a `sink` or `publish` before it would run again).
 *
 * ```text
 * --a--b--c--|       fn fails on b (retriable), inProcessAttempts: 1, delays: ['1s', '30s']
 *   retryViaTopics(fn, { delays: ['1s', '30s'] })
 * --A-----C--|       b → orders.retry.1s (tributary-retry-attempt: 1, due now + 1000), finished 'published'
 * ```
 *
 * @example
 * ```ts
 * const retries = { delays: ['1s', '30s', '5m'], inProcessAttempts: 2 } satisfies RetryViaTopicsOptions;
 * const main = definePipeline({
 *   name: 'scraper', source: { topics: ['scraping-tasks'], groupId: 'scraper' }, deadLetter: { topic: 'dead-letter' },
 *   build: (records) => records.pipe(parseJson(), validate(Task), retryViaTopics(scrape, retries), branchToDeadLetter(), publish('scraped-data')),
 * });
 * createEngine({ pipelines: [main, ...retryTopicPipelines(main, retries)], kafka });
 * ```
 * @see retryWithBackoff for blocking (in-process) retries
 * @see awaitRetryDue
 * @param fn the work for one value; receives the value, its element, and `{ attempt, signal }`
 * @param options the delays, the delay topics' prefix, in-process attempts and backoff, `retriable`, scheduler
 * @returns an operator whose ok elements hold `fn`'s result
 */
export function retryViaTopics<T, R>(
  fn: RetryFunction<T, R>,
  options: RetryViaTopicsOptions,
): OperatorFunction<Element<T>, Element<R>> {
  checkOptions('retryViaTopics', retryViaTopicsOptionsSchema, options);
  const { delays, topicPrefix, inProcessAttempts = 1, ...backoff } = options;
  const { name = 'retryViaTopics', retriable = isRetriable, scheduler = asyncScheduler } = backoff;
  const plan = retryPlan(delays);
  if (topicPrefix !== undefined) for (const hop of plan) retryTopicName(topicPrefix, hop.ms);
  const inner = retryWithBackoff(fn, { ...backoff, name, attempts: inProcessAttempts, retriable, scheduler });

  const mayRetry = (error: unknown, element: Envelope<T>): boolean => {
    try {
      return retriable(error);
    } catch (predicateError) {
      element.context.logger.error(
        { stage: name, ...recordBindings(element.origin), err: predicateError },
        'retryViaTopics: retriable() threw; not retrying',
      );
      return false;
    }
  };

  /** The last round failed: the record fails for good with every try counted. */
  const exhausted = (element: Envelope<T>, last: FailedEnvelope, state: RetryState, total: number) => {
    const rounds = state.round;
    const message =
      `failed after ${total} attempt${total === 1 ? '' : 's'} ` +
      `(${rounds} retry topic${rounds === 1 ? '' : 's'}): ${errorMessage(last.error.cause ?? last.error)}`;
    const reason = recordError(element, last.error.code, message, {
      cause: last.error.cause,
      details: last.error.details,
      retriable: false,
    });
    return withAttempts(failed(element, name, reason), total);
  };

  const forward = (
    element: Envelope<T>,
    last: FailedEnvelope,
    state: RetryState,
    total: number,
  ): Observable<Element<R>> => {
    const hop = plan[state.round];
    if (hop === undefined) return of(exhausted(element, last, state, total));
    const { origin, context } = element;
    const round = state.round + 1;
    let topic: string;
    const headers: Record<string, HeaderValue | readonly HeaderValue[]> = withoutRetryHeaders(origin.headers);
    try {
      topic = retryTopicName(topicPrefix ?? state.originalTopic, hop.ms);
      if (headers['correlation-id'] === undefined) headers['correlation-id'] = origin.correlationId;
      headers[RETRY_HEADERS.attempt] = String(round);
      headers[RETRY_HEADERS.due] = String(Math.round(scheduler.now() + hop.ms));
      headers[RETRY_HEADERS.delay] = hop.label;
      headers[RETRY_HEADERS.reason] = truncateUtf8(errorMessage(last.error.cause ?? last.error), MAX_REASON_BYTES);
      headers[RETRY_HEADERS.attempts] = String(total);
      headers[RETRY_HEADERS.originalTopic] = state.originalTopic;
      // without valid origin coordinates the state holds this delay-topic copy's partition and offset: written next to
      // the original topic they would name a record that is not this one, so the next hop falls back to its own copy
      if (state.round === 0 || originCoordinates(origin.headers) !== undefined) {
        headers[RETRY_HEADERS.springOriginalTopic] = state.originalTopic;
        headers[RETRY_HEADERS.springOriginalPartition] = int32Header(state.originalPartition);
        headers[RETRY_HEADERS.springOriginalOffset] = int64Header(state.originalOffset);
      }
      headers[RETRY_HEADERS.springOriginalTimestamp] = int64Header(BigInt(state.originalTimestamp));
    } catch (error) {
      const reason = recordError(
        element,
        'TRIBUTARY_ERR_PROCESSING',
        `cannot build the retry record: ${errorMessage(error)}`,
        {
          cause: error,
          retriable: false,
        },
      );
      return of(withAttempts(failed(element, name, reason), total));
    }
    return defer(() => context.send({ topic, key: origin.key, value: origin.raw, headers })).pipe(
      mergeMap((): Observable<Element<R>> => {
        element.ticket.finish('published');
        context.recordRetry(name);
        context.logger.info(
          { stage: name, ...recordBindings(origin), retryTopic: topic, round, attempts: total },
          `retryViaTopics: attempt ${total} failed, retrying in ${hop.label} via ${topic}: ${errorMessage(last.error.cause ?? last.error)}`,
        );
        return EMPTY;
      }),
      catchError((error: unknown) => {
        const reason = recordError(
          element,
          'TRIBUTARY_ERR_PUBLISH',
          `retry topic ${topic} refused the record: ${errorMessage(error)}; last error: ${errorMessage(last.error.cause ?? last.error)}`,
          { cause: error, retriable: false },
        );
        return of(withAttempts(failed(element, name, reason), total));
      }),
    );
  };

  const handle = (element: Envelope<T>): Observable<Element<R>> => {
    const state = readRetryState(element);
    return of(element).pipe(
      inner,
      mergeMap((out): Observable<Element<R>> => {
        const total = state.priorAttempts + out.attempts;
        if (out.ok) return of(withAttempts(out, total));
        if (!mayRetry(out.error.cause ?? out.error, element)) return of(withAttempts(out, total));
        return forward(element, out, state, total);
      }),
    );
  };

  const labels = plan.map((hop) => hop.label).filter((label, i, all) => all.indexOf(label) === i);
  return describeStage(
    mergeMapByLane(
      (element: Element<T>): Observable<Element<R>> => (element.ok ? handle(element) : of(element)),
      laneOfElement,
    ),
    topicPrefix === undefined
      ? {
          name,
          kind: 'retryViaTopics',
          outputTopicTemplates: labels.map((label) => `{source}.retry.${label}`),
        }
      : { name, kind: 'retryViaTopics', outputTopics: labels.map((label) => retryTopicName(topicPrefix, label)) },
  );
}
