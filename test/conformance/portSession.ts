/**
 * One conformance test's use of a KafkaClientPort: admins, producers and consumers made through the port only,
 * disconnected when the test finishes, and consumer probes that record every batch and group event in one order.
 */
import { onTestFinished } from 'vitest';
import type {
  AdminPort,
  AssignmentEvent,
  BatchControl,
  ConsumedRecord,
  ConsumerOptions,
  ConsumerPort,
  HeaderValue,
  KafkaClientPort,
  PartitionBatch,
  ProducerPort,
  TopicPartition,
} from '../../src/kafka/ports.js';
import { waitFor } from './waiting.js';

/** What the suite needs from an implementation. */
export interface PortHarness {
  /**
   * A client of the cluster the suite runs on. Every client returned talks to the same cluster (topics, records,
   * groups and commits are shared): a test may take several, e.g. for two members of one group.
   */
  client(): KafkaClientPort;
  /** A topic or group name no other test, and no earlier run on the same cluster, uses. */
  uniqueName(prefix: string): string;
  /**
   * How long the suite watches for something that must NOT happen (a batch of a paused partition, a second batch
   * while the handler of the first still runs), after the positive sign it waits for first. Default 1500 ms: a real
   * consumer's fetch loop turns several times in it; an in-memory client can use a few milliseconds.
   */
  quietMs?: number;
  /**
   * False for a client whose fetches list a broker's partitions in the same order every time and without a fetch
   * session (kafkajs): a fetch filled up to `maxBytes` by the first partitions leaves the others until those are
   * drained. Default true.
   */
  fairFetches?: boolean;
}

/**
 * Group timing for the suite: short heartbeats and fetch waits so joins, rebalances and resumes are quick on a real
 * broker (an in-memory client may ignore them).
 */
export const SUITE_CONSUMER_TIMING = {
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 300,
  rebalanceTimeoutMs: 10_000,
  maxWaitTimeMs: 200,
} as const satisfies Partial<ConsumerOptions>;

let sequence = 0;
/** One order for everything every probe saw (batches, assignments, rebalances), across consumers. */
export function nextSeq(): number {
  return ++sequence;
}

export interface SeenBatch {
  readonly seq: number;
  readonly batch: PartitionBatch;
}

export interface SeenAssignment {
  readonly seq: number;
  readonly event: AssignmentEvent;
}

/** What the probe's handler does with a batch; the default advances to `endOffset`. */
export type BatchScript = (batch: PartitionBatch, control: BatchControl, seq: number) => Promise<void> | void;

export const advanceToEnd: BatchScript = (batch, control) => control.advanceTo(batch.endOffset);

export interface ProbeOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning: boolean;
  readonly onBatch?: BatchScript;
  /** Called inside the port's onAssigned listener (e.g. to re-apply pauses). */
  readonly onAssigned?: (event: AssignmentEvent, consumer: ConsumerPort) => void;
  /** Called inside the port's onRebalancing listener. */
  readonly onRebalancing?: (consumer: ConsumerPort) => void;
  /** Called after subscribe, before run (the consumer is connected but has not joined its group). */
  readonly beforeRun?: (consumer: ConsumerPort) => Promise<void>;
  /** Consumer options beside the group and the suite's timing (fetch sizes). */
  readonly consumerOptions?: Omit<ConsumerOptions, 'groupId'>;
}

/** A consumer that records what it is handed. Assertions belong to the test, never inside its callbacks. */
export class ConsumerProbe {
  readonly consumer: ConsumerPort;
  readonly batches: SeenBatch[] = [];
  readonly assignments: SeenAssignment[] = [];
  readonly rebalancings: number[] = [];
  /** Errors the script threw (rethrown to the port too, as a handler's error would be). */
  readonly scriptErrors: unknown[] = [];
  readonly #options: ProbeOptions;

  constructor(consumer: ConsumerPort, options: ProbeOptions) {
    this.consumer = consumer;
    this.#options = options;
    consumer.onAssigned((event) => {
      this.assignments.push({ seq: nextSeq(), event });
      options.onAssigned?.(event, consumer);
    });
    consumer.onRebalancing(() => {
      this.rebalancings.push(nextSeq());
      options.onRebalancing?.(consumer);
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe(this.#options.topics, this.#options.fromBeginning);
    await this.#options.beforeRun?.(this.consumer);
    const script = this.#options.onBatch ?? advanceToEnd;
    await this.consumer.run(async (batch, control) => {
      const seq = nextSeq();
      this.batches.push({ seq, batch });
      try {
        await script(batch, control, seq);
      } catch (error) {
        this.scriptErrors.push(error);
        throw error;
      }
    });
  }

  /** The partitions of the latest onAssigned, undefined before the first. */
  get assignment(): readonly TopicPartition[] | undefined {
    return this.assignments.at(-1)?.event.assignment;
  }

  async waitForAssignment(what = 'an assignment', check: (tps: readonly TopicPartition[]) => boolean = () => true) {
    await waitFor(() => this.assignment !== undefined && check(this.assignment), what, {
      state: () => JSON.stringify(this.assignments.map((a) => a.event.assignment)),
    });
  }

  /** Batches of one partition (after `afterSeq`, when given), in the order they were handed over. */
  batchesOf(topic: string, partition: number, afterSeq = 0): PartitionBatch[] {
    return this.batches
      .filter((b) => b.seq > afterSeq && b.batch.topic === topic && b.batch.partition === partition)
      .map((b) => b.batch);
  }

  /** Every record value handed over for a partition (redeliveries included), as text. */
  valuesOf(topic: string, partition: number): string[] {
    return this.batchesOf(topic, partition).flatMap((b) => b.records.map((r) => r.value?.toString() ?? '<null>'));
  }

  hasValue(topic: string, partition: number, value: string): boolean {
    return this.valuesOf(topic, partition).includes(value);
  }
}

export const tpKey = (tp: TopicPartition): string => `${tp.topic}/${tp.partition}`;

/** Header value(s) as text, for comparing what was sent with what came back (a port may hand back either type). */
export function headerText(value: HeaderValue | readonly HeaderValue[] | undefined): string | string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.map((v: HeaderValue) => v.toString());
  return (value as HeaderValue).toString();
}

/** The per-test view of the port: everything made here is disconnected when the test finishes. */
export class PortSession {
  readonly harness: PortHarness;
  readonly client: KafkaClientPort;
  #admin: AdminPort | undefined;

  constructor(harness: PortHarness) {
    this.harness = harness;
    this.client = harness.client();
  }

  get quietMs(): number {
    return this.harness.quietMs ?? 1500;
  }

  name(prefix: string): string {
    return this.harness.uniqueName(prefix);
  }

  /** A connected admin of this session's client (one per test). */
  async admin(): Promise<AdminPort> {
    if (this.#admin === undefined) {
      const admin = this.client.admin();
      await admin.connect();
      onTestFinished(() => admin.disconnect());
      this.#admin = admin;
    }
    return this.#admin;
  }

  /** A new admin of a new client (another process, as far as the cluster knows). */
  async otherAdmin(): Promise<AdminPort> {
    const admin = this.harness.client().admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    return admin;
  }

  async producer(client: KafkaClientPort = this.client): Promise<ProducerPort> {
    const producer = client.producer();
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    return producer;
  }

  /** Creates a uniquely named topic through AdminPort.createTopics. */
  async topic(prefix: string, partitions: number, config?: Record<string, string>): Promise<string> {
    const topic = this.name(prefix);
    const created = await (await this.admin()).createTopics([
      config === undefined ? { topic, partitions } : { topic, partitions, config },
    ]);
    if (created.length !== 1 || created[0] !== topic) {
      throw new Error(`createTopics(${topic}) returned ${JSON.stringify(created)}`);
    }
    return topic;
  }

  /** Starts a consumer probe (connect, subscribe, run) on a new client; disconnected when the test finishes. */
  async consumer(options: ProbeOptions, client: KafkaClientPort = this.client): Promise<ConsumerProbe> {
    const probe = new ConsumerProbe(
      client.consumer({ groupId: options.groupId, ...SUITE_CONSUMER_TIMING, ...options.consumerOptions }),
      options,
    );
    onTestFinished(() => probe.consumer.disconnect().catch(() => {}));
    await probe.start();
    return probe;
  }

  /**
   * Reads `count` records of `topic` from the beginning with a new group, then leaves it: the records of each
   * partition in offset order (each offset once).
   */
  async readAll(topic: string, count: number): Promise<Map<number, ConsumedRecord[]>> {
    const byPartition = new Map<number, Map<bigint, ConsumedRecord>>();
    const total = () => [...byPartition.values()].reduce((sum, m) => sum + m.size, 0);
    const probe = await this.consumer({
      groupId: this.name('conformance-reader'),
      topics: [topic],
      fromBeginning: true,
      onBatch: (batch, control) => {
        const records = byPartition.get(batch.partition) ?? new Map<bigint, ConsumedRecord>();
        for (const r of batch.records) records.set(r.offset, r);
        byPartition.set(batch.partition, records);
        control.advanceTo(batch.endOffset);
      },
    });
    await waitFor(() => total() >= count, `${count} records of ${topic}`, { state: () => `${total()} records` });
    await probe.consumer.disconnect();
    const result = new Map<number, ConsumedRecord[]>();
    for (const [partition, records] of [...byPartition].sort(([a], [b]) => a - b)) {
      result.set(
        partition,
        [...records.values()].sort((a, b) => (a.offset < b.offset ? -1 : 1)),
      );
    }
    return result;
  }
}

/** Values of records as text. */
export function texts(records: readonly ConsumedRecord[] | undefined): string[] {
  return (records ?? []).map((r) => r.value?.toString() ?? '<null>');
}
