/**
 * The in-memory consumer: one member of a group. Its fetch loop hands the batch handler one partition's records at a
 * time (up to `partitionsConsumedConcurrently` partitions at once), waits for the handler before fetching those
 * partitions again, and sleeps without a timer when there is nothing to fetch: a write, a resume or a rebalance wakes
 * it. Like kafkajs: the next fetch of a partition starts where `advanceTo` left it (a batch not advanced comes
 * again), a pause outlives rebalances, and after every rebalance each partition restarts from its committed offset.
 */

import { ConsumerEvents } from '../../kafka/consumerEvents.js';
import { fetchLimits } from '../../kafka/fetchLimits.js';
import type {
  BatchControl,
  BatchHandler,
  ConsumedRecord,
  ConsumerOptions,
  ConsumerPort,
  PartitionBatch,
  TopicPartition,
  TopicPartitionOffset,
} from '../../kafka/ports.js';
import type { MemoryCluster } from './memoryCluster.js';
import { MemoryKafkaError, RebalanceInProgressError, unknownTopic } from './memoryErrors.js';
import type { GroupMember, MemoryGroup } from './memoryGroup.js';

type State = 'created' | 'connected' | 'running' | 'stopping' | 'disconnected';

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

function byteLength(value: Buffer | null): number {
  return value === null ? 0 : value.length;
}

/** onEmptyBatch never fires: the in-memory logs hold no transaction markers. */
export class MemoryConsumer extends ConsumerEvents implements ConsumerPort, GroupMember {
  readonly memberId: string;
  readonly #kafka: MemoryCluster;
  readonly #options: ConsumerOptions;
  readonly #group: MemoryGroup;
  #topics: string[] = [];
  #state: State = 'created';
  #fromBeginning = false;
  #handler: BatchHandler | undefined;
  #generation = -1;
  #assignment: readonly TopicPartition[] = [];
  readonly #positions = new Map<string, bigint>();
  readonly #paused = new Set<string>();
  #cursor = 0;
  /** Waiting for the group to finish a rebalance. */
  #rejoining = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #removeChangeListener: (() => void) | undefined;

  constructor(kafka: MemoryCluster, options: ConsumerOptions, memberId: string) {
    super();
    this.#kafka = kafka;
    this.#options = options;
    this.memberId = memberId;
    this.#group = kafka.group(options.groupId);
  }

  get topics(): readonly string[] {
    return this.#topics;
  }

  /** The partitions this member owns now. */
  get assignment(): readonly TopicPartition[] {
    return this.#assignment;
  }

  async connect(): Promise<void> {
    if (this.#state === 'disconnected') throw new Error('the consumer was disconnected; create a new one');
    if (this.#state === 'created') this.#state = 'connected';
  }

  async subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void> {
    if (this.#state !== 'connected')
      throw new Error(`subscribe needs a connected consumer that is not running (${this.#state})`);
    for (const topic of topics) {
      if (this.#kafka.topicOrCreate(topic) === undefined) throw unknownTopic(topic);
    }
    this.#topics = [...new Set([...this.#topics, ...topics])];
    this.#fromBeginning = fromBeginning;
  }

  async run(handler: BatchHandler): Promise<void> {
    if (this.#state !== 'connected') throw new Error(`run needs a connected consumer (${this.#state})`);
    if (this.#topics.length === 0) throw new Error('run needs a subscription');
    this.#handler = handler;
    this.#state = 'running';
    this.#removeChangeListener = this.#kafka.onChange(() => this.#wakeUp());
    this.#group.join(this);
    await this.#rejoin(); // like kafkajs, run() returns once the member has joined its group
    this.#loop = this.#fetchLoop().catch((error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.#state = 'stopping';
      this.#group.leave(this);
      this.listeners.fatal.emit(failure);
    });
  }

  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return Promise.resolve();
    if (this.#state !== 'running' && this.#state !== 'stopping') {
      return Promise.reject(new Error(`the consumer is not running (${this.#state}): commit not sent`));
    }
    if (this.#generation !== this.#group.generation) {
      return Promise.reject(
        new MemoryKafkaError(
          'ILLEGAL_GENERATION',
          `${this.memberId} has not rejoined group ${this.#group.groupId}`,
          true,
        ),
      );
    }
    for (const { topic, partition, offset } of offsets) {
      if (offset < 0n)
        return Promise.reject(new RangeError(`commit of a negative offset ${offset} for ${topic}/${partition}`));
    }
    // recorded at once (the driver reads commits synchronously); acknowledged on a microtask, like a broker's answer
    for (const { topic, partition, offset } of offsets) this.#group.commit(topic, partition, offset);
    this.#kafka.changed();
    return Promise.resolve();
  }

  pause(partitions: readonly TopicPartition[]): void {
    this.#assertRunning('pause');
    for (const tp of partitions) this.#paused.add(key(tp.topic, tp.partition));
  }

  resume(partitions: readonly TopicPartition[]): void {
    this.#assertRunning('resume');
    for (const tp of partitions) this.#paused.delete(key(tp.topic, tp.partition));
    this.#wakeUp();
  }

  /** Whether a partition is paused (a pause outlives rebalances until `resume`). */
  isPaused(topic: string, partition: number): boolean {
    return this.#paused.has(key(topic, partition));
  }

  /** Waits for the batches in hand, then leaves the group. */
  async disconnect(): Promise<void> {
    if (this.#state === 'running') {
      this.#state = 'stopping';
      // waiting to rejoin holds no batch: leave at once (the rebalance may be waiting for another member)
      if (this.#rejoining) this.#group.leave(this);
      this.#wakeUp();
      await this.#loop;
    }
    if (this.#state !== 'disconnected') this.#group.leave(this);
    this.#state = 'disconnected';
    this.#assignment = [];
    this.#removeChangeListener?.();
    this.#removeChangeListener = undefined;
  }

  /**
   * Simulates a consumer crash: with `restart` the client reconnects and rejoins by itself (`onInterrupted`, then a
   * rebalance); without, it stops for good (`onFatal`) and leaves its group.
   */
  crash(error: Error, options: { restart: boolean }): void {
    if (this.#state !== 'running') return;
    if (options.restart) {
      this.listeners.interrupted.emit(error);
      this.#group.rebalance();
      return;
    }
    this.#state = 'stopping';
    this.#group.leave(this);
    this.#wakeUp();
    this.listeners.fatal.emit(error);
  }

  position(topic: string, partition: number): bigint | undefined {
    return this.#positions.get(key(topic, partition));
  }

  rebalanceStarted(): void {
    this.#wakeUp();
  }

  #assertRunning(what: string): void {
    if (this.#state !== 'running' && this.#state !== 'stopping') {
      throw new Error(`${what}: the consumer is not running (call run() first)`);
    }
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #fetchLoop(): Promise<void> {
    while (this.#state === 'running') {
      if (this.#group.mustRejoin(this, this.#generation)) {
        await this.#rejoin();
        continue;
      }
      const batches = this.#nextBatches();
      if (batches.length === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      await Promise.all(batches.map((batch) => this.#deliver(batch)));
    }
  }

  async #rejoin(): Promise<void> {
    if (this.#generation >= 0) this.listeners.rebalancing.emit();
    this.#rejoining = true;
    const { generation, assignment } = await this.#group.rejoin(this).finally(() => {
      this.#rejoining = false;
    });
    if (this.#state !== 'running' || generation < 0) return;
    this.#generation = generation;
    const unsubscribed = [...new Set(assignment.map((tp) => tp.topic).filter((t) => !this.#topics.includes(t)))];
    this.#assignment = assignment.filter((tp) => this.#topics.includes(tp.topic));
    this.#positions.clear();
    for (const { topic, partition } of this.#assignment) {
      const committed = this.#group.committed(topic, partition);
      const end = BigInt(this.#kafka.topic(topic)?.logs[partition]?.length ?? 0);
      this.#positions.set(key(topic, partition), committed ?? (this.#fromBeginning ? 0n : end));
    }
    if (unsubscribed.length > 0) this.listeners.unsubscribedTopics.emit(unsubscribed);
    this.listeners.assigned.emit({ assignment: this.#assignment, memberId: this.memberId });
  }

  /** The next partitions with records to hand over, round-robin from where the last round started. */
  #nextBatches(): PartitionBatch[] {
    const limit = this.#options.partitionsConsumedConcurrently ?? 1;
    // a round is one fetch, with the default adapter's limits: the round's first record always comes
    const { perPartition: maxBytes, total } = fetchLimits(this.#options);
    let roundBytes = total;
    const owned = this.#assignment;
    const batches: PartitionBatch[] = [];
    for (let i = 0; i < owned.length && batches.length < limit && roundBytes > 0; i++) {
      const index = (this.#cursor + i) % owned.length;
      const { topic, partition } = owned[index] as TopicPartition;
      const k = key(topic, partition);
      if (this.#paused.has(k)) continue;
      const log = this.#kafka.topic(topic)?.logs[partition] ?? [];
      const position = this.#positions.get(k) ?? 0n;
      if (position >= BigInt(log.length)) continue;
      const records: ConsumedRecord[] = [];
      let bytes = 0;
      for (let o = Number(position); o < log.length; o++) {
        const record = log[o] as ConsumedRecord;
        const size = byteLength(record.key) + byteLength(record.value);
        if (records.length > 0 && bytes + size > maxBytes) break;
        if (size > roundBytes && (batches.length > 0 || records.length > 0)) break;
        bytes += size;
        roundBytes -= size;
        records.push(record);
      }
      if (records.length === 0) break;
      const last = records[records.length - 1] as ConsumedRecord;
      batches.push({ topic, partition, records, endOffset: last.offset + 1n, highWatermark: BigInt(log.length) });
      this.#cursor = index + 1;
    }
    return batches;
  }

  async #deliver(batch: PartitionBatch): Promise<void> {
    const handler = this.#handler as BatchHandler;
    const generation = this.#generation;
    const group = this.#group;
    let next: bigint | undefined;
    const stale = () => this.#state !== 'running' || group.mustRejoin(this, generation);
    const control: BatchControl = {
      heartbeat: async () => {
        if (this.#state === 'running' && group.mustRejoin(this, generation)) {
          throw new RebalanceInProgressError(group.groupId);
        }
      },
      shouldContinue: () => !stale(),
      advanceTo: (nextOffset) => {
        next = nextOffset;
      },
    };
    try {
      await handler(batch, control);
    } catch (error) {
      if (!(error instanceof RebalanceInProgressError)) {
        // kafkajs: an error out of the batch handler crashes the consumer, which restarts itself and rejoins
        this.listeners.interrupted.emit(error instanceof Error ? error : new Error(String(error)));
        group.rebalance();
      }
    } finally {
      if (next !== undefined && generation === this.#generation) {
        this.#positions.set(key(batch.topic, batch.partition), next);
      }
    }
  }
}
