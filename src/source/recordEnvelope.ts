/**
 * How a consumed record becomes the first envelope of a pipeline: its origin, its correlation id (the
 * `correlation-id` header, else topic-partition-offset) and its ordering lane. The engine and the test driver both
 * build envelopes here, so a pipeline sees the same elements in unit tests as in production.
 */
import type { Envelope, PipelineContext, RawValue, RecordTicket } from '../envelope.js';
import { readTextHeader } from '../kafka/headers.js';
import type { ConsumedRecord } from '../kafka/ports.js';
import type { OrderingMode, Pipeline } from '../runtime/definePipeline.js';

const partitionLanes = new Map<string, string[]>();

/** `<topic>/<partition>`, built once per partition rather than once per record. */
function partitionLane(topic: string, partition: number): string {
  let lanes = partitionLanes.get(topic);
  if (lanes === undefined) {
    if (partitionLanes.size >= 10_000) partitionLanes.clear(); // bounded, whatever topics come and go
    lanes = [];
    partitionLanes.set(topic, lanes);
  }
  let lane = lanes[partition];
  if (lane === undefined) {
    lane = `${topic}/${partition}`;
    lanes[partition] = lane;
  }
  return lane;
}

/** The lane of a record: per partition, per partition and key (null keys share the partition's), or per record. */
export function laneFor(
  ordering: OrderingMode,
  topic: string,
  partition: number,
  key: Buffer | null,
  offset: bigint,
): string {
  switch (ordering) {
    case 'partition':
      return partitionLane(topic, partition);
    case 'key':
      return key === null ? partitionLane(topic, partition) : `${topic}/${partition}/${key.toString('base64')}`;
    case 'unordered':
      return `${topic}/${partition}@${offset}`;
  }
}

export function recordEnvelope(
  pipeline: Pick<Pipeline, 'name' | 'source' | 'ordering'>,
  topic: string,
  partition: number,
  record: ConsumedRecord,
  ticket: RecordTicket,
  context: PipelineContext,
): Envelope<RawValue> {
  const { offset, key } = record;
  return {
    ok: true,
    value: record.value,
    attempts: 0,
    ticket,
    context,
    origin: {
      pipeline: pipeline.name,
      groupId: pipeline.source.groupId,
      topic,
      partition,
      offset,
      key,
      headers: record.headers,
      timestamp: record.timestamp,
      raw: record.value,
      correlationId: readTextHeader(record.headers['correlation-id']) ?? `${topic}-${partition}-${offset}`,
      lane: laneFor(pipeline.ordering, topic, partition, key, offset),
    },
  };
}
