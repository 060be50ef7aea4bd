/**
 * Latency driver (c), run in the orchestrator while a variant serves: a paced producer writes records whose value
 * carries `ts` = Date.now() at send time; a separate consumer reads the output topic and records Date.now() − ts for
 * each record. Records of the warm-up period are sent but not counted.
 */
import { type Kafka, type Message, Partitioners } from 'kafkajs';
import { makeMessage, runId, sleep, timestampOf } from './support.js';

export interface LatencyOptions {
  input: string;
  output: string;
  /** Records per second. */
  rate: number;
  /** Seconds of measured load (after the warm-up). */
  seconds: number;
  warmupSeconds: number;
  users: number;
  /** Record `id` sent at `ts`. Default: the passthrough record (makeMessage). */
  message?: (id: number, ts: number) => Message;
  /** `id` and send time of an output record. Default: the passthrough record's `"id"` and `"ts"` fields. */
  read?: (value: Buffer | null) => { id: number; ts: number } | undefined;
  /** Output records to wait for when `total` were sent (the workload's invalid ones go elsewhere). Default: all. */
  expected?: (total: number) => number;
}

function readPassthrough(value: Buffer | null): { id: number; ts: number } | undefined {
  const ts = timestampOf(value);
  const id = Number(/"id":(\d+)/.exec(value?.toString('latin1', 0, 40) ?? '')?.[1] ?? -1);
  return ts === undefined ? undefined : { id, ts };
}

export interface LatencyResult {
  sent: number;
  measured: number;
  /** Records per second the producer achieved over the whole run. */
  achievedRate: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export async function measureLatency(kafka: Kafka, options: LatencyOptions): Promise<LatencyResult> {
  const { rate, seconds, warmupSeconds, users } = options;
  const message = options.message ?? ((id: number, ts: number) => makeMessage(id, users, ts));
  const read = options.read ?? readPassthrough;
  const total = Math.round(rate * (seconds + warmupSeconds));
  const expected = options.expected ? options.expected(total) : total;
  const warmup = Math.round(rate * warmupSeconds);
  const latencies: number[] = [];
  let received = 0;

  const consumer = kafka.consumer({ groupId: `bench-latency-reader-${runId()}`, maxWaitTimeInMs: 100 });
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await Promise.all([consumer.connect(), producer.connect()]);
  try {
    await consumer.subscribe({ topics: [options.output], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          received++;
          const origin = read(m.value);
          if (origin !== undefined && origin.id >= warmup) latencies.push(now - origin.ts);
        }
      },
    });

    const pending = new Set<Promise<unknown>>();
    const started = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      if (due > sent) {
        const ts = Date.now();
        const messages: Message[] = [];
        for (let id = sent; id < due; id++) messages.push(message(id, ts));
        sent = due;
        const request = producer.send({ topic: options.input, acks: -1, messages });
        pending.add(request);
        void request.finally(() => pending.delete(request));
      }
      await sleep(5);
    }
    await Promise.all(pending);
    const achievedRate = total / ((performance.now() - started) / 1000);
    const deadline = Date.now() + 60_000;
    while (received < expected && Date.now() < deadline) await sleep(50);
    if (received < expected) {
      throw new Error(`latency: only ${received} of ${expected} records reached ${options.output}`);
    }

    const sorted = latencies.sort((a, b) => a - b);
    return {
      sent: total,
      measured: sorted.length,
      achievedRate,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
    };
  } finally {
    await Promise.all([consumer.disconnect(), producer.disconnect()]).catch(() => {});
  }
}
