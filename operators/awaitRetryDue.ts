import {
  asyncScheduler,
  type MonoTypeOperatorFunction,
  map,
  type Observable,
  of,
  type SchedulerLike,
  timer,
} from 'rxjs';
import * as z from 'zod';
import type { Element, RecordOrigin } from '../src/envelope.js';
import { readDecimalHeader } from '../src/kafka/headers.js';
import { mergeMapByLane } from '../src/lanes.js';
import { recordBindings } from '../src/logger.js';
import { stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { checkOptions, schedulerSchema } from './internal/options.js';
import { originCoordinates, RETRY_HEADERS, readRetryState } from './retryTopics/topics.js';

/** Options of {@link awaitRetryDue}. */
export interface AwaitRetryDueOptions {
  /** Stage name (`[A-Za-z0-9._-]`): the log binding of this stage. Default `'awaitRetryDue'`. */
  name?: string;
  /**
   * Longest wait for one record, in milliseconds: a guard against a due time far in the future (a producer's clock
   * ahead of ours). Set it to the topic's delay. Default: no limit.
   */
  maxWaitMs?: number;
  /**
   * Whether the emitted element's origin names the ORIGINAL record (topic, partition, offset, timestamp, and the
   * correlation id derived from them) instead of its copy in the delay topic, so dead letters and logs point at the
   * record the user produced. The ordering lane and the ticket stay those of the delay-topic record. Default true.
   */
  restoreOrigin?: boolean;
  /** Scheduler of the waits (`now()` is compared with `tributary-retry-due`). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** The runtime check and reference documentation of {@link AwaitRetryDueOptions}. */
export const awaitRetryDueOptionsSchema = z
  .strictObject({
    name: stageNameSchema.optional(),
    maxWaitMs: z
      .number()
      .nonnegative()
      .optional()
      .describe(
        "Longest wait for one record, in ms (guards against a clock ahead of ours); the topic's delay. Default: none.",
      ),
    restoreOrigin: z
      .boolean()
      .optional()
      .describe(
        "Emit elements whose origin names the original record (topic/partition/offset) instead of the delay topic's copy. Default true.",
      ),
    scheduler: schedulerSchema.optional(),
  })
  .describe('Options of awaitRetryDue(): hold each delay-topic record until its tributary-retry-due time.');

/** The partition of the delay topic: records of one partition were written in due order, so they wait in turn. */
const partitionLane = (element: Element<unknown>): string => `${element.origin.topic}/${element.origin.partition}`;

/**
 * Holds each record of a delay topic until its `tributary-retry-due` time, partition by partition.
 *
 * <span class="informal">`delayWhen` up to a header's time, in order per partition; the first stage of a retry
 * pipeline.</span>
 *
 * The records of one delay-topic partition were written in due order (same delay, increasing time), so the head of
 * the partition is the next one due: each record waits on a scheduler timer for `due − now` (at most `maxWaitMs`; at
 * once when due or when the header is missing) while the records behind it queue in order. Different partitions
 * wait independently. Nothing spins and nothing blocks the consumer: the engine keeps heartbeating while admission
 * waits. The cost: records queued behind a waiting head hold admission credit (`maxInFlight`) until they pass; size
 * `maxInFlight` for the backlog of one delay. With `restoreOrigin` (default) the element's origin is rewritten to the
 * original record's coordinates from the retry headers; when those are missing or out of range the delay-topic
 * record's own are kept (with a warning). Failed elements pass through in lane order.
 *
 * ```text
 * --a--b-----|        a due at 50, b due at 60 (same partition)
 *   awaitRetryDue()
 * --------------------------------------------------a---------b   (frames 50 and 60)
 * ```
 *
 * @example
 * ```ts
 * // a hand-made retry pipeline over the scraping workload's `retry` topic
 * definePipeline({ name: 'scraper-retry', source: { topics: ['retry'], groupId: 'scraper-retry' }, ...,
 *   build: (records) => records.pipe(awaitRetryDue({ maxWaitMs: 60_000 }), parseJson(), retryViaTopics(scrape, retries)) });
 * ```
 * @see retryViaTopics
 * @param options stage name, wait limit, origin restoring, scheduler
 * @returns an operator that emits each element (an Envelope or Element) once it is due
 */
export function awaitRetryDue<E extends Element<unknown>>(
  options: AwaitRetryDueOptions = {},
): MonoTypeOperatorFunction<E> {
  checkOptions('awaitRetryDue', awaitRetryDueOptionsSchema, options);
  const {
    name = 'awaitRetryDue',
    maxWaitMs = Number.POSITIVE_INFINITY,
    restoreOrigin = true,
    scheduler = asyncScheduler,
  } = options;

  const restored = (element: E): E => {
    if (!restoreOrigin) return element;
    const state = readRetryState(element);
    if (state.round === 0) return element;
    const { origin } = element;
    if (originCoordinates(origin.headers) === undefined) {
      // a missing, corrupt or hand-written kafka_original-partition/-offset: the delay-topic copy is the only record
      // that can be named for sure, so dead letters and logs keep pointing at it
      element.context.logger.warn(
        { stage: name, ...recordBindings(origin) },
        `awaitRetryDue: no valid ${RETRY_HEADERS.springOriginalPartition}/${RETRY_HEADERS.springOriginalOffset} headers (missing or out of range); the record keeps its delay-topic coordinates`,
      );
      return element;
    }
    const hasCorrelationHeader = origin.headers['correlation-id'] !== undefined;
    const rewritten: RecordOrigin = {
      ...origin,
      topic: state.originalTopic,
      partition: state.originalPartition,
      offset: state.originalOffset,
      timestamp: state.originalTimestamp,
      correlationId: hasCorrelationHeader
        ? origin.correlationId
        : `${state.originalTopic}-${state.originalPartition}-${state.originalOffset}`,
    };
    return { ...element, origin: rewritten };
  };

  const wait = (element: E): Observable<E> => {
    const due = readDecimalHeader(element.origin.headers[RETRY_HEADERS.due]);
    if (due === undefined) {
      element.context.logger.warn(
        { stage: name, ...recordBindings(element.origin) },
        `awaitRetryDue: no valid ${RETRY_HEADERS.due} header; processing the record now`,
      );
      return of(restored(element));
    }
    const waitMs = Math.min(maxWaitMs, Math.max(0, Number(due) - scheduler.now()));
    if (waitMs <= 0) return of(restored(element));
    element.context.logger.debug(
      { stage: name, ...recordBindings(element.origin), waitMs },
      'awaitRetryDue: waiting until the record is due',
    );
    return timer(waitMs, scheduler).pipe(map(() => restored(element)));
  };

  return describeStage(
    mergeMapByLane((element: E) => (element.ok ? wait(element) : of(element)), partitionLane),
    { name, kind: 'awaitRetryDue' },
  );
}
