/** Shared helpers of the benchmark: Kafka clients, the record shape, preloading, end detection, resource sampling. */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { type Admin, Kafka, type logCreator, logLevel, type Message, Partitioners } from 'kafkajs';
import { patchKafkajsNegativeTimeout } from '../src/kafka/kafkajsTimeouts.js';
import { createTopicsWithLeaders } from '../src/kafka/kafkajsTopics.js';

// Node 24 warns on kafkajs' negative request-queue timer: the engine's fix (src/kafka/kafkajsTimeouts.ts)
patchKafkajsNegativeTimeout();

/** Partitions of every input and output topic of the benchmark. */
export const PARTITIONS = 6;
/** Size of one record value in bytes (JSON, padded). */
export const VALUE_BYTES = 200;
/** How often variants and drivers poll the broker for their end condition. */
export const POLL_MS = 250;

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/**
 * kafkajs' console log (its format), less the error responses its connections log before the client retries them:
 * offsets asked for right after a topic is created are refused with "not the leader" until the partition has one,
 * and a producer's first request with "the coordinator is loading", which printed ERROR lines at every round
 * although the calls then succeeded. A call that fails for good still throws, and the bench reports that.
 */
const withoutRetriedResponses: logCreator =
  () =>
  ({ namespace, level, label, log }) => {
    if (namespace === 'Connection' && log.message.startsWith('Response ')) return;
    const line = JSON.stringify({ level: label, ...log, message: `[${namespace}] ${log.message}` });
    if (level === logLevel.ERROR) console.error(line);
    else if (level === logLevel.WARN) console.warn(line);
    else console.info(line);
  };

export function benchKafka(brokers: readonly string[], clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.ERROR, logCreator: withoutRetriedResponses });
}

/** 8 hex characters, to make topic and group names unique per run. */
export function runId(): string {
  return randomBytes(4).toString('hex');
}

const TYPES = ['created', 'updated', 'deleted'] as const;

/** `{"id":…,"user":"u-…","type":…,"ts":…,"pad":"xx…"}`, padded to VALUE_BYTES (ts: epoch ms at creation). */
export function makeValue(id: number, user: string, ts: number): string {
  const head = `{"id":${id},"user":"${user}","type":"${TYPES[id % TYPES.length]}","ts":${ts},"pad":"`;
  return `${head}${'x'.repeat(Math.max(0, VALUE_BYTES - head.length - 2))}"}`;
}

/** The user (and record key) of record `id` when there are `users` distinct users. */
export function userOf(id: number, users: number): string {
  return `u-${id % users}`;
}

export function makeMessage(id: number, users: number, ts = Date.now()): Message {
  const user = userOf(id, users);
  return { key: user, value: makeValue(id, user, ts) };
}

/** Reads `"ts":<digits>` from a value made by makeValue. */
export function timestampOf(value: Buffer | null): number | undefined {
  if (!value) return undefined;
  const text = value.toString('latin1', 0, 120);
  const match = /"ts":(\d+)/.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Topic-level configuration, e.g. `{ 'message.timestamp.type': 'LogAppendTime' }`. */
  config?: Record<string, string>;
}

export async function createTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
  await createTopicsWithLeaders(
    admin,
    specs.map(({ topic, partitions, config = {} }) => ({
      topic,
      numPartitions: partitions,
      replicationFactor: 1,
      configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
    })),
  );
}

export interface PreloadOptions {
  /** Distinct keys. */
  users: number;
  /** Records per sendBatch request. Default 10,000. */
  batchSize?: number;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
}

/** Writes `count` records to `topic` as fast as the client allows; returns the seconds it took. */
export async function preload(kafka: Kafka, topic: string, count: number, options: PreloadOptions): Promise<number> {
  const { users, batchSize = 10_000, concurrency = 4 } = options;
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
      const to = Math.min(count, from + batchSize);
      next = to;
      const ts = Date.now();
      const messages: Message[] = [];
      for (let id = from; id < to; id++) messages.push(makeMessage(id, users, ts));
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await producer.disconnect();
  }
  return (performance.now() - started) / 1000;
}

/** Records in a topic (sum of the partitions' high watermarks; topics here start at offset 0, no transactions). */
export async function recordsIn(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
}

/** Records in all of these topics together. */
export async function recordsInAll(admin: Admin, topics: readonly string[]): Promise<number> {
  const counts = await Promise.all(topics.map((topic) => recordsIn(admin, topic)));
  return counts.reduce((a, b) => a + b, 0);
}

/** True when `groupId` committed the end offset of every partition of `topic`. */
export async function committedToEnd(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const [ends, [committed]] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
  return ends.every((e) => byPartition.get(e.partition) === e.high);
}

/** Polls every POLL_MS until `check` holds; resolves with performance.now() of the poll that saw it. */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return performance.now();
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** Peak memory of this process, sampled every 100 ms: RSS, V8 heap in use, and Buffers outside the heap. */
export class MemorySampler {
  readonly startRss = process.memoryUsage().rss;
  #rss = this.startRss;
  #heapUsed = 0;
  #external = 0;
  readonly #timer = setInterval(() => this.sample(), 100);
  constructor() {
    this.#timer.unref();
  }
  sample(): void {
    const m = process.memoryUsage();
    if (m.rss > this.#rss) this.#rss = m.rss;
    if (m.heapUsed > this.#heapUsed) this.#heapUsed = m.heapUsed;
    if (m.external > this.#external) this.#external = m.external;
  }
  /** Peaks in MiB. */
  peaks(): { rss: number; heapUsed: number; external: number; startRss: number } {
    this.sample();
    const mb = (bytes: number) => bytes / 2 ** 20;
    return {
      rss: mb(this.#rss),
      heapUsed: mb(this.#heapUsed),
      external: mb(this.#external),
      startRss: mb(this.startRss),
    };
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A process's RSS now and its high-water mark (VmRSS, VmHWM), KiB, from /proc; undefined off Linux or once gone. */
export function processMemoryKb(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
      hwm: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0),
    };
  } catch {
    return undefined;
  }
}

/** The kernel's high-water mark of a process's RSS (VmHWM), MiB; 0 off Linux or for a gone process. */
export function highWaterMarkMb(pid: number): number {
  return (processMemoryKb(pid)?.hwm ?? 0) / 1024;
}

/** The processes whose parent is `pid` (from /proc); empty off Linux. */
export function childPids(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** CPU seconds (user + system) a process used so far, from /proc; undefined off Linux or for a gone process. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may contain spaces) start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine spent busy (all CPUs, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, ...fields] = line.trim().split(/\s+/);
    const ticks = fields.slice(0, 8).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return (total - idle) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the machine is quiet — less than `maxBusy` of all CPUs busy over a 3 s window — or `timeoutMs` passed.
 * Other work on a shared machine (other test runs) otherwise lands in the measurement. Returns the last busy share.
 */
export async function waitForQuiet(maxBusy: number, timeoutMs: number, log: (line: string) => void): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const cpus = availableParallelism();
  let warned = false;
  for (;;) {
    const before = machineBusySeconds();
    await sleep(3000);
    const after = machineBusySeconds();
    if (before === undefined || after === undefined) return 0;
    const busy = (after - before) / (3 * cpus);
    if (busy < maxBusy) return busy;
    if (Date.now() > deadline) {
      log(`machine still ${(busy * 100).toFixed(0)}% busy after waiting ${timeoutMs / 1000} s; measuring anyway`);
      return busy;
    }
    if (!warned) log(`machine ${(busy * 100).toFixed(0)}% busy with other work; waiting for it to calm down …`);
    warned = true;
  }
}

/**
 * Waits until one process (the broker) is quiet — less than `maxShare` of one CPU over a 3 s window — or `timeoutMs`
 * passed. After a preload the broker works on for seconds, which would land in the first contender's measurement.
 * Returns the last share (undefined when the process cannot be read).
 */
export async function waitForQuietProcess(
  pid: number,
  maxShare: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const before = processCpuSeconds(pid);
    await sleep(3000);
    const after = processCpuSeconds(pid);
    if (before === undefined || after === undefined) return undefined;
    const share = (after - before) / 3;
    if (share < maxShare || Date.now() > deadline) return share;
  }
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
