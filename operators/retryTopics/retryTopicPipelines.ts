/**
 * The built-in retry pipelines of non-blocking retries: one pipeline per delay, consuming the `<topic>.retry.<delay>`
 * topics that `retryViaTopics` writes to, holding each record until it is due, then giving it another try.
 */
import { map, type OperatorFunction, type SchedulerLike } from 'rxjs';
import * as z from 'zod';
import type { Element, Envelope, RawValue } from '../../src/envelope.js';
import { definePipeline, type OrderingMode, type Pipeline } from '../../src/runtime/definePipeline.js';
import { awaitRetryDue } from '../awaitRetryDue.js';
import { failAt } from '../internal/failure.js';
import { checkOptions, schedulerSchema } from '../internal/options.js';
import { publish } from '../publish.js';
import {
  RETRY_HEADERS,
  type RetryTopicsOptions,
  readRetryState,
  retryPlan,
  retryTopicName,
  retryTopicsShape,
} from './topics.js';

/**
 * Options of {@link retryTopicPipelines}: the `delays` and `topicPrefix` given to `retryViaTopics`, plus tuning. The
 * retryViaTopics options object itself may be passed (spread) here: its other options are ignored.
 */
export interface RetryTopicPipelinesOptions extends RetryTopicsOptions {
  /**
   * `'rerun'` (default): run the main pipeline's chain again on the due record, in the retry pipeline (Spring's
   * behaviour). `'redeliver'`: publish the due record back to its original topic, where the main pipeline picks it up
   * (it goes to the end of the partition, and every other consumer group of that topic sees it again).
   */
  mode?: 'rerun' | 'redeliver';
  /** Admission limit of each retry pipeline; records waiting for their due time count. Default: the main pipeline's. */
  maxInFlight?: number;
  /** Ordering of the stages after the wait (the wait itself is always per partition). Default: the main pipeline's. */
  ordering?: OrderingMode;
  /** Scheduler of the waits. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** The runtime check and reference documentation of {@link RetryTopicPipelinesOptions}. */
export const retryTopicPipelinesOptionsSchema = z
  .strictObject({
    ...retryTopicsShape,
    mode: z
      .enum(['rerun', 'redeliver'])
      .optional()
      .describe("'rerun' the main chain on the due record (default) or 'redeliver' it to its original topic."),
    maxInFlight: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Admission limit of each retry pipeline (waiting records count). Default: the main pipeline's."),
    ordering: z
      .enum(['partition', 'key', 'unordered'])
      .optional()
      .describe("Ordering of the stages after the wait (the wait is per partition). Default: the main pipeline's."),
    scheduler: schedulerSchema.optional(),
  })
  .describe('Options of retryTopicPipelines(): the pipelines that consume the delay topics of retryViaTopics().');

/** Fails elements that are not retry records (no round or no original topic header): redelivering them would loop. */
function checkRetryRecord(stage: string): OperatorFunction<Element<Buffer | null>, Element<Buffer | null>> {
  return map((element) => {
    if (!element.ok) return element;
    const state = readRetryState(element);
    if (state.round > 0 && state.originalTopic !== element.origin.topic) return element;
    return failAt(
      element,
      stage,
      'TRIBUTARY_ERR_VALIDATION',
      `not a retry record: it needs ${RETRY_HEADERS.attempt} and ${RETRY_HEADERS.originalTopic} headers naming another topic`,
    );
  });
}

/**
 * The retry pipelines of `main`: one per distinct delay, named `<main>.retry.<delay>`, in consumer group
 * `<main group>.retry.<delay>`, consuming `<topicPrefix or source topic>.retry.<delay>` from the earliest offset.
 * Each holds a record until its `tributary-retry-due` time with `awaitRetryDue` (per partition, on a timer: nothing
 * spins, heartbeats go on) and then, in `'rerun'` mode, runs `main`'s chain on it — `retryViaTopics` in that chain
 * reads the round from the headers and forwards a failing record to the next delay topic, or, after the last one,
 * fails it to the dead-letter topic with every attempt counted. In `'redeliver'` mode it publishes the record back to
 * its original topic (with the retry headers, so the main pipeline knows the round).
 *
 * Create the topics first (`retryTopicNames(main.source.topics, options)`). A long delay does not hold up a short one:
 * each delay has its own consumer and admission limit.
 *
 * @example
 * ```ts
 * const retries = { delays: ['1s', '30s', '5m'] };
 * const main = definePipeline({ ..., build: (r) => r.pipe(parseJson(), retryViaTopics(scrape, retries), publish('scraped-data')) });
 * createEngine({ pipelines: [main, ...retryTopicPipelines(main, retries)], kafka });
 * ```
 * @param main the pipeline whose chain uses `retryViaTopics` with the same `delays` and `topicPrefix`
 * @param options delays, topic prefix, mode and tuning
 * @returns one pipeline per distinct delay
 */
export function retryTopicPipelines<TOut>(
  main: Pipeline<TOut>,
  options: RetryTopicPipelinesOptions,
): Pipeline<unknown>[] {
  // The same object is meant to be passed to retryViaTopics too: its own options (fn's retries) are ignored here.
  const { delays, topicPrefix, mode = 'rerun', maxInFlight, ordering, scheduler } = options;
  const own = { delays, topicPrefix, mode, maxInFlight, ordering, scheduler };
  for (const key of Object.keys(own) as (keyof typeof own)[]) if (own[key] === undefined) delete own[key];
  checkOptions('retryTopicPipelines', retryTopicPipelinesOptionsSchema, own);
  const hops = retryPlan(delays).filter((hop, i, all) => all.findIndex((h) => h.ms === hop.ms) === i);
  return hops.map((hop) => {
    const topics = [
      ...new Set(
        (topicPrefix === undefined ? main.source.topics : [topicPrefix]).map((t) => retryTopicName(t, hop.ms)),
      ),
    ];
    const wait = awaitRetryDue<Envelope<RawValue>>({
      name: `retry.${hop.label}.wait`,
      maxWaitMs: hop.ms,
      restoreOrigin: mode === 'rerun',
      ...(scheduler ? { scheduler } : {}),
    });
    const build: Pipeline<unknown>['build'] =
      mode === 'rerun'
        ? (records) => main.build(records.pipe(wait))
        : (records) =>
            records.pipe(
              wait,
              checkRetryRecord(`retry.${hop.label}.redeliver`),
              publish<Buffer | null>((element) => readRetryState(element).originalTopic, {
                name: `retry.${hop.label}.redeliver`,
                value: (_value, element) => element.origin.raw,
                headers: (element) => element.origin.headers,
              }),
            );
    return definePipeline<unknown>({
      name: `${main.name}.retry.${hop.label}`,
      source: { topics, groupId: `${main.source.groupId}.retry.${hop.label}`, fromBeginning: true },
      deadLetter: main.deadLetter,
      maxInFlight: maxInFlight ?? main.maxInFlight,
      ordering: ordering ?? main.ordering,
      commitIntervalMs: main.commitIntervalMs,
      drainTimeoutMs: main.drainTimeoutMs,
      consumer: main.consumer,
      build,
    });
  });
}
