/**
 * PipelineRun against a scripted ConsumerPort (no broker): what a run admits and commits when batches, assignments
 * and client events arrive in orders a broker produces only rarely (reliability review F12, F13, F15, F16, F17).
 */
import pino from 'pino';
import { filter, type OperatorFunction, tap } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { definePipeline, type Element, publish, type RawValue } from '../../../src/index.js';
import { noopObserver } from '../../../src/instrumentation.js';
import type {
  AssignmentEvent,
  BatchControl,
  BatchHandler,
  ConsumerPort,
  KafkaClientPort,
  TopicPartition,
  TopicPartitionOffset,
} from '../../../src/kafka/ports.js';
import { PipelineRun } from '../../../src/runtime/pipelineRun.js';
import type { ProducerBatcher } from '../../../src/runtime/producerBatcher.js';

interface ScriptedConsumer extends ConsumerPort {
  handler: BatchHandler | undefined;
  readonly commits: TopicPartitionOffset[][];
  readonly pauses: string[];
  assign(assignment: readonly TopicPartition[]): void;
  emptyBatch(tp: TopicPartition, endOffset: bigint): void;
  /** The group announces a rebalance (the run commits what is finished). */
  rebalancing(): void;
  /** Commits fail (as the kafkajs adapter's do while its runner is not running). */
  refuseCommits: boolean;
}

function scriptedConsumer(): ScriptedConsumer {
  let assigned: ((event: AssignmentEvent) => void) | undefined;
  let empty: ((tp: TopicPartition, end: bigint) => void) | undefined;
  let rebalancing: (() => void) | undefined;
  const consumer: ScriptedConsumer = {
    handler: undefined,
    commits: [],
    pauses: [],
    refuseCommits: false,
    assign: (assignment) => assigned?.({ assignment, memberId: 'm' }),
    emptyBatch: (tp, end) => empty?.(tp, end),
    rebalancing: () => rebalancing?.(),
    connect: async () => {},
    subscribe: async () => {},
    run: async (handler) => {
      consumer.handler = handler;
    },
    commit: async (offsets) => {
      if (consumer.refuseCommits) throw new Error('the consumer is not running: commit not sent');
      consumer.commits.push([...offsets]);
    },
    pause: (tps) => {
      for (const tp of tps) consumer.pauses.push(`${tp.topic}/${tp.partition}`);
    },
    resume: () => {},
    onAssigned: (listener) => {
      assigned = listener;
      return () => {};
    },
    onRebalancing: (listener) => {
      rebalancing = listener;
      return () => {};
    },
    onFatal: () => () => {},
    onInterrupted: () => () => {},
    onUnsubscribedTopics: () => () => {},
    onEmptyBatch: (listener) => {
      empty = listener;
      return () => {};
    },
    disconnect: async () => {},
  };
  return consumer;
}

const control = (advanced: bigint[] = []): BatchControl => ({
  heartbeat: async () => {},
  shouldContinue: () => true,
  advanceTo: (offset) => advanced.push(offset),
});

const records = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    offset: BigInt(from + i),
    key: null,
    value: Buffer.from(String(from + i)),
    headers: {},
    timestamp: '0',
  }));

/** A producer that acknowledges every record at once. */
const ackingProducer = {
  enqueue: (_record: unknown, done: (error?: unknown) => void) => done(),
  send: async () => {},
} as unknown as ProducerBatcher;

function startedRun(
  consumer: ScriptedConsumer,
  maxInFlight = 100,
  chain: OperatorFunction<Element<RawValue>, Element<unknown>> = publish('out'),
): Promise<PipelineRun> {
  const client = { consumer: () => consumer } as unknown as KafkaClientPort;
  const pipeline = definePipeline({
    name: 'unit',
    source: { topics: ['in'], groupId: 'unit-group' },
    deadLetter: { topic: 'dlq' },
    maxInFlight,
    commitIntervalMs: 60_000,
    build: (stream) => stream.pipe(chain),
  });
  const run = new PipelineRun(
    pipeline,
    { client, producer: ackingProducer, logger: pino({ level: 'silent' }), observer: noopObserver },
    { crashed: () => {}, completed: () => {}, dropped: () => {} },
  );
  return run.start().then(() => run);
}

const batch = (partition: number, from: number, count: number) => ({
  topic: 'in',
  partition,
  records: records(from, count),
  endOffset: BigInt(from + count),
  highWatermark: BigInt(from + count),
});

describe('PipelineRun', () => {
  it('F12: admits nothing of a batch for a partition it does not own, and commits nothing for it', async () => {
    const consumer = scriptedConsumer();
    const run = await startedRun(consumer);
    consumer.assign([{ topic: 'in', partition: 0 }]);
    const advanced: bigint[] = [];
    await consumer.handler?.(batch(1, 40, 10), control(advanced)); // a stale batch of partition 1
    await consumer.handler?.(batch(0, 0, 5), control());
    await run.close(true);
    expect(advanced).toEqual([]); // the stale batch did not move the client's position either
    expect(consumer.commits.flat()).toEqual([{ topic: 'in', partition: 0, offset: 5n }]);
  });

  it('F13: a batch of only transaction markers moves the commit past them', async () => {
    const consumer = scriptedConsumer();
    const run = await startedRun(consumer);
    consumer.assign([{ topic: 'in', partition: 0 }]);
    await consumer.handler?.(batch(0, 0, 10), control());
    consumer.emptyBatch({ topic: 'in', partition: 0 }, 11n); // the commit marker at offset 10
    await run.close(true);
    expect(consumer.commits.flat()).toEqual([{ topic: 'in', partition: 0, offset: 11n }]);
  });

  it('F15: a batch handed over after admission stopped pauses the assignment instead of being fetched again', async () => {
    const consumer = scriptedConsumer();
    const run = await startedRun(consumer);
    consumer.assign([
      { topic: 'in', partition: 0 },
      { topic: 'in', partition: 1 },
    ]);
    run.stopAdmitting();
    consumer.pauses.length = 0;
    const advanced: bigint[] = [];
    await consumer.handler?.(batch(0, 0, 10), control(advanced));
    expect(advanced).toEqual([]);
    expect(consumer.pauses).toEqual(['in/0', 'in/1']);
    await run.close(false);
  });

  it('F16: a parked partition is paused again on every assignment that keeps it (the client may have lost the pause)', async () => {
    const consumer = scriptedConsumer();
    // a chain that holds every record without finishing it keeps the window (4) full
    const held: unknown[] = [];
    const run = await startedRun(consumer, 4, (source) =>
      source.pipe(
        tap((el) => held.push(el)),
        filter(() => false),
      ),
    );
    const assignment = [
      { topic: 'in', partition: 0 },
      { topic: 'in', partition: 1 },
    ];
    consumer.assign(assignment);
    await consumer.handler?.(batch(0, 0, 10), control());
    expect(run.pausedPartitions).toBe(1); // partition 0 holds its share (3 of 4) and stepped aside
    expect(consumer.pauses).toEqual(['in/0']);
    consumer.assign(assignment); // e.g. kafkajs restarted its consumer: a new subscription state, pauses forgotten
    expect(consumer.pauses).toEqual(['in/0', 'in/0']);
    await run.close(false);
    expect(held.length).toBe(4);
  });

  it('F17: a commit the client refused is not counted: the same offsets are sent again next round', async () => {
    const consumer = scriptedConsumer();
    const run = await startedRun(consumer);
    consumer.assign([{ topic: 'in', partition: 0 }]);
    await consumer.handler?.(batch(0, 0, 3), control());
    consumer.refuseCommits = true;
    consumer.rebalancing();
    await new Promise((done) => setTimeout(done, 10));
    expect(consumer.commits).toEqual([]);
    consumer.refuseCommits = false;
    await run.close(true);
    expect(consumer.commits.flat()).toEqual([{ topic: 'in', partition: 0, offset: 3n }]);
  });
});
