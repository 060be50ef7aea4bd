/**
 * The workload's record generator: deterministic (record `id` always gives the same bytes, but for the `ts` the
 * caller passes), ~170-byte JSON values keyed by user, and one record in a hundred invalid in one of five ways that
 * the zod schema and the Java check reject alike (see definition.ts).
 */
import { type Kafka, type Message, Partitioners } from 'kafkajs';
import { DEVICES, EVENT_TYPES, isInvalidId } from './definition.js';

/** Distinct users (record keys). */
export const USERS = 10_000;

/** A 32-bit mix of the id (splitmix-like): the same on every run and platform. */
function mix(id: number): number {
  let x = (id + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export function userOf(id: number): string {
  return `u-${String(mix(id) % USERS).padStart(5, '0')}`;
}

/**
 * The value of record `id`, created at `ts` (epoch ms), e.g.
 * `{"id":12345,"ts":1763900000000,"userId":"u-04821","type":"purchase","amount":123.45,"currency":"EUR",`
 * `"sessionId":"s-5f0e3a9c1b","page":"/products/8231/info","device":"mobile"}`.
 */
export function workloadValue(id: number, ts: number): string {
  const h = mix(id);
  const user = userOf(id);
  const type = EVENT_TYPES[h % EVENT_TYPES.length];
  const amount = ((h >>> 4) % 100_000) / 100;
  const session = `s-${h.toString(16).padStart(8, '0')}${(id % 256).toString(16).padStart(2, '0')}`;
  const page = `/products/${(h >>> 8) % 10_000}/info`;
  const device = DEVICES[(h >>> 3) % DEVICES.length];
  if (!isInvalidId(id)) {
    return `{"id":${id},"ts":${ts},"userId":"${user}","type":"${type}","amount":${amount},"currency":"EUR","sessionId":"${session}","page":"${page}","device":"${device}"}`;
  }
  switch (Math.floor(id / 100) % 5) {
    case 0: // malformed JSON: cut short
      return `{"id":${id},"ts":${ts},"userId":"${user}","type":"${type}","amount":${amount},"curr`;
    case 1: // negative amount
      return `{"id":${id},"ts":${ts},"userId":"${user}","type":"${type}","amount":-${amount + 1},"currency":"EUR","sessionId":"${session}","page":"${page}","device":"${device}"}`;
    case 2: // unknown type
      return `{"id":${id},"ts":${ts},"userId":"${user}","type":"refund","amount":${amount},"currency":"EUR","sessionId":"${session}","page":"${page}","device":"${device}"}`;
    case 3: // no userId
      return `{"id":${id},"ts":${ts},"type":"${type}","amount":${amount},"currency":"EUR","sessionId":"${session}","page":"${page}","device":"${device}"}`;
    default: // currency of the wrong length
      return `{"id":${id},"ts":${ts},"userId":"${user}","type":"${type}","amount":${amount},"currency":"EURO","sessionId":"${session}","page":"${page}","device":"${device}"}`;
  }
}

export function workloadMessage(id: number, ts = Date.now()): Message {
  return { key: userOf(id), value: workloadValue(id, ts), timestamp: String(ts) };
}

/** `id` and `ts` of a workload value (the first two fields), without parsing the whole record. */
export function idAndTs(value: Buffer | null): { id: number; ts: number } | undefined {
  if (!value) return undefined;
  const match = /^\{"id":(\d+),"ts":(\d+)/.exec(value.toString('latin1', 0, 48));
  return match ? { id: Number(match[1]), ts: Number(match[2]) } : undefined;
}

/** Writes records 0 … count − 1 to `topic` (10,000 per request, 4 requests in flight); returns the seconds taken. */
export async function preloadWorkload(kafka: Kafka, topic: string, count: number): Promise<number> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      const to = Math.min(count, from + 10_000);
      next = to;
      const ts = Date.now();
      const messages: Message[] = [];
      for (let id = from; id < to; id++) messages.push(workloadMessage(id, ts));
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
    }
  };
  try {
    await Promise.all(Array.from({ length: 4 }, worker));
  } finally {
    await producer.disconnect();
  }
  return (performance.now() - started) / 1000;
}
