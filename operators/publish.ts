/**
 * Publishes each ok element to a topic through the engine's shared, batching producer, settles the record as
 * `published` once the broker acknowledged it (acks = all) and emits it. Settling is not finishing: the record
 * finishes — and its offset becomes committable — only when it leaves the chain, so a later stage (another publish,
 * a sink) can still fail it and send it to the dead-letter topic. Failed elements pass through untouched. A record
 * the broker refuses for good (e.g. too large, or keyless on a compacted topic) becomes a failed element for the
 * dead-letter topic; transient broker trouble is retried by the producer, in order, and the record stays unsettled
 * meanwhile — given up after 60 s while other requests get through (the record fails and is dead-lettered), never
 * while the broker is unreachable.
 *
 * ```
 * in:   --a--b--------c--|
 * ack:  -----[a,b]------[c]
 * out:  -------a-b--------c--|
 * ```
 *
 * @example
 * records.pipe(parseJson(), publish('orders.enriched', { key: (el) => el.value.orderId }))
 * @param topic the destination topic, or a function choosing it per element
 * @param options key, value, headers and partition choices
 * @returns the same elements, after they were acknowledged
 */
import { Observable, type OperatorFunction } from 'rxjs';
import * as z from 'zod';
import type { Element, Envelope } from '../src/envelope.js';
import { errorMessage, TributaryError } from '../src/errors.js';
import type { HeaderValue, OutgoingRecord, RecordHeaders } from '../src/kafka/ports.js';
import { isTopicName, stageNameSchema, TOPIC_NAME_RULE } from '../src/names.js';
import { serializeValue } from '../src/runtime/serializeValue.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { failAt } from './internal/failure.js';
import { checkOptions, functionSchema } from './internal/options.js';

export interface PublishOptions<T> {
  /** Stage name for metrics, logs and dead-letter headers. Default 'publish'. */
  name?: string;
  /** The output key; decides the partition. Default: the input record's key. */
  key?: (element: Envelope<T>) => Buffer | string | null;
  /** The output value. Default: Buffer and string as they are, null as a tombstone, anything else as JSON. */
  value?: (value: T, element: Envelope<T>) => Buffer | string | null;
  /**
   * The output's headers. The input's `correlation-id` header, when it has one, is carried over unless these set
   * their own. To stamp an id on records that came without one: `headers: (el) => ({ 'correlation-id':
   * el.origin.correlationId })` (the header, else `<topic>-<partition>-<offset>` of the input).
   */
  headers?: (element: Envelope<T>) => RecordHeaders;
  /** An explicit partition; default: chosen by the key. */
  partition?: (element: Envelope<T>) => number | undefined;
}

/** The runtime check and reference documentation of {@link PublishOptions}. */
export const publishOptionsSchema = z
  .strictObject({
    name: stageNameSchema.optional(),
    key: functionSchema<(element: Envelope<unknown>) => Buffer | string | null>(
      '(element) => Buffer | string | null',
      "The output key; decides the partition. Default: the input record's key.",
    ).optional(),
    value: functionSchema<(value: unknown, element: Envelope<unknown>) => Buffer | string | null>(
      '(value, element) => Buffer | string | null',
      'The output value. Default: Buffers and strings as they are, null as a tombstone, anything else as JSON.',
    ).optional(),
    headers: functionSchema<(element: Envelope<unknown>) => RecordHeaders>(
      '(element) => RecordHeaders',
      "The output's headers. The input's correlation-id header is carried over unless these set their own. " +
        'Default: only that header.',
    ).optional(),
    partition: functionSchema<(element: Envelope<unknown>) => number | undefined>(
      '(element) => number | undefined',
      'An explicit partition. Default: chosen by the key.',
    ).optional(),
  })
  .describe("Options of publish(): the output record's key, value, headers and partition.");

export function publish<T>(
  topic: string | ((element: Envelope<T>) => string),
  options: PublishOptions<T> = {},
): OperatorFunction<Element<T>, Element<T>> {
  checkOptions('publish', publishOptionsSchema, options);
  if (typeof topic === 'string' ? !isTopicName(topic) : typeof topic !== 'function') {
    throw new TributaryError(
      'TRIBUTARY_ERR_PIPELINE_DEFINITION',
      `publish: ${JSON.stringify(topic)} is not a Kafka topic name (${TOPIC_NAME_RULE}) or a function choosing one`,
    );
  }
  const { name = 'publish', key, value, headers, partition } = options;
  const build = (element: Envelope<T>): OutgoingRecord => {
    // this runs once per record on the hot path: no copies unless user headers meet an incoming id. The input's
    // correlation id travels as the bytes it came with; nothing is added to records that had none (a header costs
    // kafkajs ~3 µs per record to encode and ~40 bytes on the wire, a fifth of a small record)
    const incoming = element.origin.headers['correlation-id'];
    let outHeaders: Record<string, HeaderValue | readonly HeaderValue[] | undefined> | undefined;
    if (headers) {
      outHeaders = headers(element);
      if (incoming !== undefined && outHeaders['correlation-id'] === undefined) {
        outHeaders = { ...outHeaders, 'correlation-id': incoming };
      }
    } else if (incoming !== undefined) {
      outHeaders = { 'correlation-id': incoming };
    }
    const record: { -readonly [K in keyof OutgoingRecord]: OutgoingRecord[K] } = {
      topic: typeof topic === 'string' ? topic : topic(element),
      key: key ? key(element) : element.origin.key,
      value: value ? value(element.value, element) : serializeValue(element.value),
    };
    if (outHeaders !== undefined) record.headers = outHeaders;
    if (partition) {
      const p = partition(element);
      if (p !== undefined) record.partition = p;
    }
    return record;
  };

  // A hand-written operator rather than mergeMap(from(send())): with thousands of records awaiting their
  // acknowledgement, mergeMap's inner-subscription bookkeeping cost grew with the window (profiled in bench/), and
  // a callback instead of a Promise per record saves its allocation and microtask. The shared producer keeps one queue
  // per destination topic and acknowledges each in queue order, so elements published to one topic leave in the
  // order they came; elements published to different topics may leave in either order.
  const operator: OperatorFunction<Element<T>, Element<T>> = (source) =>
    new Observable<Element<T>>((subscriber) => {
      let pending = 0;
      let sourceDone = false;
      const acknowledged = () => {
        pending--;
        if (sourceDone && pending === 0) subscriber.complete();
      };
      const subscription = source.subscribe({
        next: (element) => {
          if (!element.ok) {
            subscriber.next(element);
            return;
          }
          let record: OutgoingRecord;
          try {
            record = build(element);
          } catch (error) {
            subscriber.next(
              failAt(
                element,
                name,
                'TRIBUTARY_ERR_PROCESSING',
                `publish could not build the record: ${errorMessage(error)}`,
                {
                  cause: error,
                  retriable: false,
                },
              ),
            );
            return;
          }
          pending++;
          element.context.enqueue(record, (error?: unknown) => {
            if (error === undefined) {
              // settle, not finish: a later stage may still fail the record (the end of the chain finishes it)
              element.ticket.settle('published');
              subscriber.next(element);
            } else {
              subscriber.next(
                failAt(
                  element,
                  name,
                  'TRIBUTARY_ERR_PUBLISH',
                  `publish to ${record.topic} refused: ${errorMessage(error)}`,
                  {
                    cause: error,
                  },
                ),
              );
            }
            acknowledged();
          });
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (pending === 0) subscriber.complete();
        },
      });
      return () => subscription.unsubscribe();
    });
  return describeStage(
    operator,
    typeof topic === 'string'
      ? { name, kind: 'publish', outputTopics: [topic] }
      : { name, kind: 'publish', dynamicOutputs: true },
  );
}
