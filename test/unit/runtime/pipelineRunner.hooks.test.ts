/**
 * The supervisor's hooks for the test driver, on a scripted consumer and a manual clock: `finished` hears every
 * finished record (after the observer, with its duration on the clock), `unfinished()` lists what the run holds
 * (in flight, then parked), `committable()` and `commitNow()` show and commit what is finished.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { definePipeline, type Outcome, publish } from '../../../src/index.js';
import { type EngineObserver, noopObserver } from '../../../src/instrumentation.js';
import type {
  AssignmentEvent,
  BatchHandler,
  ConsumerPort,
  KafkaClientPort,
  TopicPartition,
  TopicPartitionOffset,
} from '../../../src/kafka/ports.js';
import { PipelineRunner } from '../../../src/runtime/pipelineRunner.js';
import type { ProducerBatcher, SendCallback } from '../../../src/runtime/producerBatcher.js';
import { ManualClock, settle } from '../../support/manualClock.js';

interface ScriptedConsumer extends ConsumerPort {
  handler: BatchHandler | undefined;
  readonly commits: TopicPartitionOffset[][];
  assign(assignment: readonly TopicPartition[]): void;
}

/** A consumer driven by the test; its commit records the offsets synchronously. */
function scriptedConsumer(): ScriptedConsumer {
  let assigned: ((event: AssignmentEvent) => void) | undefined;
  const consumer: ScriptedConsumer = {
    handler: undefined,
    commits: [],
    assign: (assignment) => assigned?.({ assignment, memberId: 'm' }),
    connect: async () => {},
    subscribe: async () => {},
    run: async (handler) => {
      consumer.handler = handler;
    },
    commit: (offsets) => {
      consumer.commits.push([...offsets]);
      return Promise.resolve();
    },
    pause: () => {},
    resume: () => {},
    onAssigned: (listener) => {
      assigned = listener;
      return () => {};
    },
    onRebalancing: () => () => {},
    onFatal: () => () => {},
    onInterrupted: () => () => {},
    onUnsubscribedTopics: () => () => {},
    onEmptyBatch: () => () => {},
    disconnect: async () => {},
  };
  return consumer;
}

/** A producer that holds every record until the test acknowledges it, by the record's value. */
function holdingProducer() {
  const held = new Map<string, SendCallback>();
  const producer = {
    enqueue: (record: { value: unknown }, done: SendCallback) => held.set(String(record.value), done),
  } as unknown as ProducerBatcher;
  const ack = (value: number) => {
    held.get(String(value))?.();
    held.delete(String(value));
  };
  return { producer, ack };
}

const batch = (partition: number, from: number, count: number) => ({
  topic: 'in',
  partition,
  records: Array.from({ length: count }, (_, i) => ({
    offset: BigInt(from + i),
    key: null,
    value: Buffer.from(String(from + i)),
    headers: {},
    timestamp: '0',
  })),
  endOffset: BigInt(from + count),
  highWatermark: BigInt(from + count),
});

const control = { heartbeat: async () => {}, shouldContinue: () => true, advanceTo: () => {} };

const inFlight = (partition: number, ...offsets: number[]) =>
  offsets.map((o) => ({ topic: 'in', partition, offset: BigInt(o), state: 'in-flight' }));
const waiting = (partition: number, ...offsets: number[]) =>
  offsets.map((o) => ({ topic: 'in', partition, offset: BigInt(o), state: 'waiting' }));

function started() {
  const clock = new ManualClock(5000);
  const consumer = scriptedConsumer();
  const { producer, ack } = holdingProducer();
  const events: string[] = [];
  const observer: EngineObserver = {
    ...noopObserver,
    recordFinished: (_pipeline, _topic, outcome, seconds) => events.push(`observer ${outcome} ${seconds}`),
  };
  const finished: { pipeline: string; offset: bigint; outcome: Outcome; durationMs: number }[] = [];
  const pipeline = definePipeline({
    name: 'hooked',
    source: { topics: ['in'], groupId: 'hooked-group' },
    deadLetter: { topic: 'dlq' },
    maxInFlight: 4,
    commitIntervalMs: 60_000,
    build: (stream) => stream.pipe(publish('out')),
  });
  const runner = new PipelineRunner(pipeline, {
    client: { consumer: () => consumer } as unknown as KafkaClientPort,
    producer,
    logger: pino({ level: 'silent' }),
    observer,
    clock,
    finished: (name, entry, outcome, durationMs) => {
      events.push(`finished ${outcome} ${durationMs}`);
      finished.push({ pipeline: name, offset: entry.offset, outcome, durationMs });
    },
  });
  return { runner, clock, consumer, ack, events, finished };
}

describe('PipelineRunner hooks', () => {
  it('finished: every finished record, after the observer, with its duration on the clock', async () => {
    const { runner, clock, consumer, ack, events, finished } = started();
    await runner.start();
    consumer.assign([{ topic: 'in', partition: 0 }]);
    await consumer.handler?.(batch(0, 0, 2), control);
    await clock.advance(250);
    ack(1);
    ack(0);
    await settle();
    expect(finished).toEqual([
      { pipeline: 'hooked', offset: 1n, outcome: 'published', durationMs: 250 },
      { pipeline: 'hooked', offset: 0n, outcome: 'published', durationMs: 250 },
    ]);
    expect(events).toEqual([
      'observer published 0.25',
      'finished published 250',
      'observer published 0.25',
      'finished published 250',
    ]);
    await runner.stop();
  });

  it('unfinished: in flight then waiting (parked), ascending per partition; committable and commitNow', async () => {
    const { runner, consumer, ack } = started();
    expect(runner.unfinished()).toEqual([]);
    expect(runner.committable()).toEqual([]);
    await runner.commitNow(); // no run yet: resolves at once
    await runner.start();
    consumer.assign([
      { topic: 'in', partition: 0 },
      { topic: 'in', partition: 1 },
    ]);
    await consumer.handler?.(batch(0, 0, 10), control); // fills the window (4), the rest of the batch is parked
    expect(runner.pausedPartitions).toBe(1);
    expect(runner.unfinished()).toEqual([...inFlight(0, 0, 1, 2, 3), ...waiting(0, 4, 5, 6, 7, 8, 9)]);
    // nothing finished: the group would stay at offset 0; partition 1 fetched nothing, so it is left out
    expect(runner.committable()).toEqual([{ topic: 'in', partition: 0, offset: 0n }]);
    ack(1);
    await settle();
    expect(runner.unfinished()).toEqual([...inFlight(0, 0, 2, 3), ...waiting(0, 4, 5, 6, 7, 8, 9)]);
    expect(runner.committable()).toEqual([{ topic: 'in', partition: 0, offset: 0n }]); // offset 0 holds it
    ack(0);
    await settle();
    expect(runner.committable()).toEqual([{ topic: 'in', partition: 0, offset: 2n }]);
    const committing = runner.commitNow();
    expect(consumer.commits).toEqual([[{ topic: 'in', partition: 0, offset: 2n }]]); // synchronously
    await committing;
    expect(runner.committable()).toEqual([{ topic: 'in', partition: 0, offset: 2n }]); // the last committed
    for (const offset of [2, 3, 4, 5, 6, 7, 8, 9]) {
      ack(offset);
      await settle();
    }
    expect(runner.unfinished()).toEqual([]);
    expect(runner.committable()).toEqual([{ topic: 'in', partition: 0, offset: 10n }]);
    await runner.stop();
    expect(consumer.commits.at(-1)).toEqual([{ topic: 'in', partition: 0, offset: 10n }]);
    expect(runner.unfinished()).toEqual([]);
    expect(runner.committable()).toEqual([]); // the run is closed
  });
});
