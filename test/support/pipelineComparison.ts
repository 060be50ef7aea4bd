/**
 * Driver-vs-broker comparisons of the shipped pipelines: the same input goes through the test driver and through
 * the engine on the real broker, and every topic the pipelines write must hold the same records in both runs. What
 * depends on the clock or on scheduling (timestamps, durations, due times) is left out of the comparison by each
 * topic's normalization; everything else must be equal: partition, key, value, headers, the order of each key's
 * records within its partition, and the committed offsets.
 */
import { expect } from 'vitest';
import { DEAD_LETTER_HEADERS, type EngineObserver, RETRY_HEADERS, readIntegerHeader } from '../../src/index.js';
import { noopObserver } from '../../src/instrumentation.js';
import type { TestDriver, TestRecord } from '../../src/testing/index.js';
import { committedOffsets, testAdmin, testKafka } from './kafka.js';
import { readToEnd, type StoredRecord } from './readToEnd.js';

/** A record as both runs are compared on it. */
export interface ComparedRecord {
  readonly partition: number;
  /** Where it sits in its partition (orders a key's records; not compared). */
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/** How one topic's records are compared. */
export interface TopicNormalization {
  /** The value as compared, from its UTF-8 text (null for a tombstone). Default: the text itself. */
  value?: (text: string | null) => unknown;
  /** Headers left out (they hold times). Every other header is compared. */
  ignoreHeaders?: readonly string[];
}

type HeaderBytes = Buffer | string | readonly (Buffer | string)[] | undefined;

/** Headers whose value is a big-endian integer (Spring's): compared as decimal text, so a difference reads well. */
const INTEGER_HEADERS: ReadonlySet<string> = new Set([
  DEAD_LETTER_HEADERS.originalPartition,
  DEAD_LETTER_HEADERS.originalOffset,
  RETRY_HEADERS.springOriginalPartition,
  RETRY_HEADERS.springOriginalOffset,
]);

function headerText(name: string, value: HeaderBytes): string | undefined {
  if (INTEGER_HEADERS.has(name)) {
    const n = readIntegerHeader(value);
    if (n !== undefined) return `int ${n}`;
  }
  const last: Buffer | string | undefined = Array.isArray(value) ? value[value.length - 1] : (value as Buffer | string);
  return last === undefined ? undefined : last.toString('utf8');
}

function normalize(
  record: {
    partition: number;
    offset: bigint;
    key: Buffer | null;
    value: Buffer | null;
    headers: Readonly<Record<string, HeaderBytes>>;
  },
  spec: TopicNormalization,
): ComparedRecord {
  const ignored = new Set(spec.ignoreHeaders ?? []);
  const headers: Record<string, string> = {};
  for (const name of Object.keys(record.headers).sort()) {
    const text = headerText(name, record.headers[name]);
    if (!ignored.has(name) && text !== undefined) headers[name] = text;
  }
  const text = record.value === null ? null : record.value.toString('utf8');
  return {
    partition: record.partition,
    offset: record.offset,
    key: record.key === null ? null : record.key.toString('utf8'),
    value: spec.value ? spec.value(text) : text,
    headers,
  };
}

/** A topic's records as the driver holds them (every record ever written), normalized. */
export function fromDriver(records: readonly TestRecord<unknown>[], spec: TopicNormalization = {}): ComparedRecord[] {
  return records.map((r) =>
    normalize(
      { partition: r.partition, offset: r.offset, key: r.rawKey, value: r.rawValue, headers: r.rawHeaders },
      spec,
    ),
  );
}

/** A topic's records as the broker holds them, normalized. */
export function fromBroker(records: readonly StoredRecord[], spec: TopicNormalization = {}): ComparedRecord[] {
  return records.map((r) => normalize(r, spec));
}

/** Every record `topic` holds on the broker, up to its end offsets now. */
export function readBrokerTopic(topic: string): Promise<StoredRecord[]> {
  return readToEnd(testKafka('tributary-test-compare'), topic);
}

/** JSON with object keys sorted, so equal values have equal text. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
  });
}

const compared = (r: ComparedRecord) =>
  canonical({ partition: r.partition, key: r.key, headers: r.headers, value: r.value });

/**
 * The broker's records of a topic are the driver's: the same multiset (partition, key, headers, value; so no record
 * missing, none extra, no duplicate the driver did not predict), and each key's records in the same order within
 * their partition.
 */
export function expectSameRecords(
  topic: string,
  broker: readonly ComparedRecord[],
  driver: readonly ComparedRecord[],
): void {
  expect(broker.map(compared).sort(), `${topic}: the records`).toEqual(driver.map(compared).sort());
  const lanes = (records: readonly ComparedRecord[]) => {
    const byLane = new Map<string, string[]>();
    const inLogOrder = [...records].sort((a, b) =>
      a.partition !== b.partition ? a.partition - b.partition : a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0,
    );
    for (const r of inLogOrder) {
      const lane = `${r.partition}/${r.key}`;
      byLane.set(lane, [...(byLane.get(lane) ?? []), compared(r)]);
    }
    return Object.fromEntries([...byLane].sort(([a], [b]) => (a < b ? -1 : 1)));
  };
  expect(lanes(broker), `${topic}: the order of each key's records in its partition`).toEqual(lanes(driver));
}

/** A consumer group and a topic it reads. */
export interface GroupTopic {
  readonly groupId: string;
  readonly topic: string;
}

const commitKey = (groupId: string, topic: string, partition: number) => `${groupId} ${topic}/${partition}`;

/**
 * Each group committed on the broker what it committed in the driver, partition by partition (a partition with no
 * commit counts as 0: nothing was read from it), and that is the end of every partition: nothing left behind.
 */
export async function expectSameCommits(driver: TestDriver, groups: readonly GroupTopic[]): Promise<void> {
  const admin = await testAdmin();
  const inDriver = new Map(
    driver.committedOffsets().map((c) => [commitKey(c.groupId, c.topic, c.partition), c.offset]),
  );
  const fromDriver: Record<string, string> = {};
  const fromBroker: Record<string, string> = {};
  const ends: Record<string, string> = {};
  for (const { groupId, topic } of groups) {
    const committed = await committedOffsets(groupId, topic);
    for (const end of await admin.fetchTopicOffsets(topic)) {
      const key = commitKey(groupId, topic, end.partition);
      const onBroker = committed.get(end.partition) ?? -1n;
      fromBroker[key] = String(onBroker < 0n ? 0n : onBroker);
      fromDriver[key] = String(inDriver.get(key) ?? 0n);
      ends[key] = end.high;
    }
  }
  expect(fromBroker, 'committed offsets: broker vs driver').toEqual(fromDriver);
  expect(fromBroker, 'committed offsets: the end of every partition').toEqual(ends);
}

/**
 * Waits until the broker's topics hold at least the records the driver wrote to them and every group committed to
 * the end of its topics (so nothing is in flight any more). Does not throw: when time runs out it says what was
 * missing, and the comparison that follows shows the difference.
 */
export async function waitForBroker(
  expected: Readonly<Record<string, number>>,
  groups: readonly GroupTopic[],
  timeoutMs: number,
): Promise<string | undefined> {
  const admin = await testAdmin();
  const deadline = Date.now() + timeoutMs;
  let missing: string[] = [];
  while (Date.now() < deadline) {
    missing = [];
    for (const [topic, count] of Object.entries(expected)) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
      if (total < count) missing.push(`${topic}: ${total} of ${count} records`);
    }
    for (const { groupId, topic } of groups) {
      const committed = await committedOffsets(groupId, topic);
      for (const end of await admin.fetchTopicOffsets(topic)) {
        const at = committed.get(end.partition) ?? -1n;
        if ((at < 0n ? 0n : at) !== BigInt(end.high)) {
          missing.push(`${groupId} committed ${at} of ${end.high} on ${topic}/${end.partition}`);
        }
      }
    }
    if (missing.length === 0) return undefined;
    await new Promise((done) => setTimeout(done, 200));
  }
  return missing.join('; ');
}

/** A copy of `value` without the named keys (an object's own keys only). */
export function omit(value: unknown, keys: readonly string[]): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([k]) => !keys.includes(k)));
}

/** What a run's records came to, counted: the engine's `recordFinished` and `retried` events. */
export interface RunCounts {
  /** `<pipeline> <topic> <outcome>` → records. */
  readonly outcomes: Record<string, number>;
  /** `<pipeline> <stage>` → retries. */
  readonly retries: Record<string, number>;
}

/** An observer for a driver or an engine that counts how records finished and how often stages retried. */
export function countingObserver(): { observer: EngineObserver; counts: RunCounts } {
  const counts: RunCounts = { outcomes: {}, retries: {} };
  const add = (into: Record<string, number>, key: string) => {
    into[key] = (into[key] ?? 0) + 1;
  };
  const observer: EngineObserver = {
    ...noopObserver,
    recordFinished: (pipeline, topic, outcome) => add(counts.outcomes, `${pipeline} ${topic} ${outcome}`),
    retried: (pipeline, stage) => add(counts.retries, `${pipeline} ${stage}`),
  };
  return { observer, counts };
}

/** Both runs finished the same number of records with each outcome, per pipeline and topic, and retried as often. */
export function expectSameCounts(broker: RunCounts, driver: RunCounts): void {
  const sorted = (r: Record<string, number>) =>
    Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
  expect(sorted(broker.outcomes), 'records finished, by pipeline, topic and outcome').toEqual(sorted(driver.outcomes));
  expect(sorted(broker.retries), 'retries, by pipeline and stage').toEqual(sorted(driver.retries));
}
