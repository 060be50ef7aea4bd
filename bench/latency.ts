/**
 * Latency driver (c), run in the orchestrator while a variant serves: a paced producer writes records to the input,
 * the variant processes them into the output, and a record's latency is the time from its append to the input to its
 * append to the output, both stamped by the broker (the latency topics use `message.timestamp.type=LogAppendTime`).
 * Both topics are read once the output holds every record, so nothing measured waits on the measuring consumer.
 *
 * Before this, a consumer of the output recorded `Date.now() − ts` as records arrived. That measured the bench's own
 * kafkajs consumer as much as the variant: with nothing between the paced producer and that consumer (it read the
 * input topic itself), it reported p50 47–65 ms and p99 about 180 ms at 5,000 records/s.
 */
import kafkajs, { type Kafka, type Message, Partitioners } from 'kafkajs';
import { makeMessage, pollUntil, recordsIn, runId, sleep, timestampOf } from './support.js';

/** Configuration of the latency runs' input and output topics: the broker stamps each record as it appends it. */
export const LATENCY_TOPIC_CONFIG: Readonly<Record<string, string>> = { 'message.timestamp.type': 'LogAppendTime' };

export interface LatencyOptions {
  /** Input and output topics, created with LATENCY_TOPIC_CONFIG. */
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
  /** `id` and send time of a record. Default: the passthrough record's `"id"` and `"ts"` fields. */
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
  /** Input append → output append, ms. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** The same from the producer's send (`ts` in the value, this machine's clock) to the output append, ms. */
  fromSend?: { p50: number; p99: number };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Where and when a record was appended (broker time), and when it was sent. */
export interface Appended {
  id: number;
  sentAt: number;
  appendedAt: number;
}

/**
 * Latencies of the records with `id >= fromId`, sorted: output append − input append, and output append − send. A
 * record seen twice in the output (at-least-once) counts at its first append; one missing from either side is left out.
 */
export function appendLatencies(
  input: Iterable<Appended>,
  output: Iterable<Appended>,
  fromId: number,
): { appendToAppend: number[]; sendToAppend: number[] } {
  const inputAt = new Map<number, number>();
  for (const r of input) if (!inputAt.has(r.id)) inputAt.set(r.id, r.appendedAt);
  const outputFirst = new Map<number, Appended>();
  for (const r of output) {
    const seen = outputFirst.get(r.id);
    if (!seen || r.appendedAt < seen.appendedAt) outputFirst.set(r.id, r);
  }
  const appendToAppend: number[] = [];
  const sendToAppend: number[] = [];
  for (const [id, out] of outputFirst) {
    const inAt = inputAt.get(id);
    if (id < fromId || inAt === undefined) continue;
    appendToAppend.push(out.appendedAt - inAt);
    sendToAppend.push(out.appendedAt - out.sentAt);
  }
  const ascending = (a: number, b: number) => a - b;
  return { appendToAppend: appendToAppend.sort(ascending), sendToAppend: sendToAppend.sort(ascending) };
}

export async function measureLatency(kafka: Kafka, options: LatencyOptions): Promise<LatencyResult> {
  const { rate, seconds, warmupSeconds, users } = options;
  const message = options.message ?? ((id: number, ts: number) => makeMessage(id, users, ts));
  const read = options.read ?? readPassthrough;
  const total = Math.round(rate * (seconds + warmupSeconds));
  const expected = options.expected ? options.expected(total) : total;
  const warmup = Math.round(rate * warmupSeconds);

  const admin = kafka.admin();
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await Promise.all([admin.connect(), producer.connect()]);
  try {
    await expectAppendTime(admin, [options.input, options.output]);
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
    let received = 0;
    const arrived = async () => {
      received = await recordsIn(admin, options.output);
      return received >= expected;
    };
    await pollUntil(arrived, 60_000, `${expected} records on ${options.output}`).catch(() => {
      throw new Error(`latency: only ${received} of ${expected} records reached ${options.output}`);
    });

    const [input, output] = await Promise.all([
      readAppended(kafka, options.input, total, read),
      readAppended(kafka, options.output, received, read),
    ]);
    const { appendToAppend, sendToAppend } = appendLatencies(input, output, warmup);
    return {
      sent: total,
      measured: appendToAppend.length,
      achievedRate,
      p50: percentile(appendToAppend, 50),
      p90: percentile(appendToAppend, 90),
      p99: percentile(appendToAppend, 99),
      max: appendToAppend[appendToAppend.length - 1] ?? Number.NaN,
      fromSend: { p50: percentile(sendToAppend, 50), p99: percentile(sendToAppend, 99) },
    };
  } finally {
    await Promise.all([admin.disconnect(), producer.disconnect()]).catch(() => {});
  }
}

/** Throws unless every topic stamps records at append: otherwise the producers' clocks would be measured. */
async function expectAppendTime(admin: ReturnType<Kafka['admin']>, topics: readonly string[]): Promise<void> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({
      type: kafkajs.ConfigResourceTypes.TOPIC,
      name,
      configNames: ['message.timestamp.type'],
    })),
  });
  for (const resource of described.resources) {
    const value = resource.configEntries.find((e) => e.configName === 'message.timestamp.type')?.configValue;
    if (value !== 'LogAppendTime') {
      throw new Error(`latency: topic ${resource.resourceName} has message.timestamp.type=${value}, not LogAppendTime`);
    }
  }
}

/** Reads `count` records of `topic` from the beginning: each one's id, send time and append time. */
async function readAppended(
  kafka: Kafka,
  topic: string,
  count: number,
  read: (value: Buffer | null) => { id: number; ts: number } | undefined,
): Promise<Appended[]> {
  const consumer = kafka.consumer({ groupId: `bench-latency-reader-${runId()}`, maxWaitTimeInMs: 100 });
  const records: Appended[] = [];
  let seen = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          seen++;
          const origin = read(m.value);
          if (origin !== undefined) records.push({ id: origin.id, sentAt: origin.ts, appendedAt: Number(m.timestamp) });
        }
      },
    });
    await pollUntil(async () => seen >= count, 60_000, `${count} records read from ${topic}`).catch(() => {
      throw new Error(`latency: read only ${seen} of ${count} records of ${topic}`);
    });
    return records;
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}
