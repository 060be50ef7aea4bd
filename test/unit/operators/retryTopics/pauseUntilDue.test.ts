import { describe, expect, it } from 'vitest';
import { pauseUntilDue } from '../../../../operators/retryTopics/index.js';
import { RETRY_HEADERS } from '../../../../operators/retryTopics/topics.js';
import type {
  BatchControl,
  BatchHandler,
  ConsumedRecord,
  ConsumerPort,
  KafkaClientPort,
  PartitionBatch,
  TopicPartition,
} from '../../../../src/kafka/ports.js';

/** A consumer port that records pause/resume and lets the test hand batches to the running handler. */
function fakeClient() {
  const events: string[] = [];
  let handler: BatchHandler | undefined;
  const consumer: ConsumerPort = {
    connect: async () => {},
    subscribe: async () => {},
    run: async (h) => {
      handler = h;
    },
    commit: async () => {},
    pause: (tps: readonly TopicPartition[]) => events.push(`pause ${tps.map((t) => `${t.topic}/${t.partition}`)}`),
    resume: (tps: readonly TopicPartition[]) => events.push(`resume ${tps.map((t) => `${t.topic}/${t.partition}`)}`),
    onAssigned: () => () => {},
    onRebalancing: () => () => {},
    onFatal: () => () => {},
    onInterrupted: () => () => {},
    onUnsubscribedTopics: () => () => {},
    onEmptyBatch: () => () => {},
    disconnect: async () => {
      events.push('disconnect');
    },
  };
  const client: KafkaClientPort = {
    consumer: () => consumer,
    producer: () => {
      throw new Error('not used');
    },
    admin: () => {
      throw new Error('not used');
    },
  };
  const deliver = async (batch: PartitionBatch) => {
    if (!handler) throw new Error('run() was not called');
    const advanced: bigint[] = [];
    const control: BatchControl = {
      heartbeat: async () => {},
      shouldContinue: () => true,
      advanceTo: (next) => advanced.push(next),
    };
    await handler(batch, control);
    return advanced;
  };
  return { client, events, deliver };
}

function record(offset: number, due?: number): ConsumedRecord {
  return {
    offset: BigInt(offset),
    key: null,
    value: Buffer.from(`r${offset}`),
    headers: due === undefined ? {} : { [RETRY_HEADERS.due]: Buffer.from(String(due)) },
    timestamp: '0',
  };
}

function batch(records: ConsumedRecord[], endOffset: number): PartitionBatch {
  return {
    topic: 'orders.retry.5m',
    partition: 2,
    records,
    endOffset: BigInt(endOffset),
    highWatermark: BigInt(endOffset),
  };
}

/** A manual clock and timer queue. */
function manualTime(start: number) {
  let now = start;
  const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  return {
    now: () => now,
    schedule: (fn: () => void, ms: number) => {
      const timer = { at: now + ms, fn, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    advance(ms: number) {
      now += ms;
      for (const t of timers.filter((t) => !t.cancelled && t.at <= now)) {
        t.cancelled = true;
        t.fn();
      }
    },
  };
}

describe('pauseUntilDue', () => {
  it('hands over the due records, stops the engine at the first record not due, and pauses until shortly before it', async () => {
    const { client, events, deliver } = fakeClient();
    const time = manualTime(1_000_000);
    const consumer = pauseUntilDue(client, { windowMs: 5000, now: time.now, schedule: time.schedule }).consumer({
      groupId: 'g',
    });
    const seen: PartitionBatch[] = [];
    await consumer.run(async (b, control) => {
      seen.push(b);
      control.advanceTo(b.endOffset);
    });
    // r10 due already, r11 due within the window, r12 due in 60 s, r13 behind it
    const advanced = await deliver(
      batch([record(10, 999_000), record(11, 1_004_000), record(12, 1_060_000), record(13, 1_061_000)], 14),
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]?.records.map((r) => r.offset)).toEqual([10n, 11n]);
    expect(seen[0]?.endOffset).toBe(12n); // commits and the fetch position stop at r12
    expect(advanced).toEqual([12n]);
    expect(events).toEqual(['pause orders.retry.5m/2']);
    time.advance(54_999);
    expect(events).toEqual(['pause orders.retry.5m/2']);
    time.advance(1); // 60 s − 5 s window
    expect(events).toEqual(['pause orders.retry.5m/2', 'resume orders.retry.5m/2']);
  });

  it('pauses without calling the engine when the head record is not due; passes records without a due header', async () => {
    const { client, events, deliver } = fakeClient();
    const time = manualTime(0);
    const consumer = pauseUntilDue(client, { now: time.now, schedule: time.schedule }).consumer({ groupId: 'g' });
    const seen: bigint[][] = [];
    await consumer.run(async (b) => {
      seen.push(b.records.map((r) => r.offset));
    });
    expect(await deliver(batch([record(0, 30_000), record(1, 30_001)], 2))).toEqual([]);
    expect(seen).toEqual([]);
    expect(events).toEqual(['pause orders.retry.5m/2']);
    await deliver(batch([record(5), record(6)], 7));
    expect(seen).toEqual([[5n, 6n]]);
    // a second pause of the same partition replaces the first timer
    await deliver(batch([record(0, 50_000)], 1));
    time.advance(25_000);
    expect(events).toEqual(['pause orders.retry.5m/2', 'pause orders.retry.5m/2']);
    time.advance(20_000);
    expect(events.at(-1)).toBe('resume orders.retry.5m/2');
    expect(events.filter((e) => e.startsWith('resume'))).toHaveLength(1);
  });

  it('cancels pending resumes on disconnect', async () => {
    const { client, events, deliver } = fakeClient();
    const time = manualTime(0);
    const consumer = pauseUntilDue(client, { now: time.now, schedule: time.schedule }).consumer({ groupId: 'g' });
    await consumer.run(async () => {});
    await deliver(batch([record(0, 60_000)], 1));
    await consumer.disconnect();
    time.advance(120_000);
    expect(events).toEqual(['pause orders.retry.5m/2', 'disconnect']);
  });
});
