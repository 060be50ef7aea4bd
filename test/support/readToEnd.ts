/**
 * Reads a topic from the beginning to the end offsets it has when called, on any broker (the fault tests also run
 * their own). "Nothing lost" is judged on this: every output record the broker holds, not the ones a collector saw.
 */
import type { Kafka } from 'kafkajs';
import { uniqueName } from './kafka.js';

export interface StoredRecord {
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  /** Header values as bytes (the last one when a header repeats). */
  headers: Record<string, Buffer>;
}

/** Every record of `topic` up to its current end offsets; rejects after `timeoutMs` saying how far it got. */
export async function readToEnd(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<StoredRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
  const records: StoredRecord[] = [];
  // partitions still short of their end: the next offset each has to reach
  const pending = new Map([...ends].filter(([, end]) => end > 0n));
  if (pending.size === 0) return records;

  const consumer = kafka.consumer({ groupId: uniqueName('test-read-to-end') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => {
        const left = [...pending].map(([p, end]) => `p${p} <${end}`).join(', ');
        fail(new Error(`readToEnd(${topic}): ${records.length} records in ${timeoutMs} ms; not reached: ${left}`));
      }, timeoutMs);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition) ?? 0n;
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              if (offset >= end) break;
              const headers: Record<string, Buffer> = {};
              for (const [name, raw] of Object.entries(m.headers ?? {})) {
                const v = Array.isArray(raw) ? raw[raw.length - 1] : raw;
                if (v !== undefined) headers[name] = Buffer.isBuffer(v) ? v : Buffer.from(v);
              }
              records.push({ partition: batch.partition, offset, key: m.key, value: m.value, headers });
              if (offset + 1n >= end) pending.delete(batch.partition);
            }
            if (pending.size === 0) {
              clearTimeout(timer);
              done();
            }
          },
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          fail(error);
        });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
