/** The AdminPort on @platformatic/kafka's Admin (topics, committed offsets) and a groupless Consumer (end offsets). */
import { Admin, Consumer, ListOffsetTimestamps } from '@platformatic/kafka';
import type { KafkaConnectionConfig } from '../kafkajsClient.js';
import type { AdminPort, PartitionOffsets, TopicSpec } from '../ports.js';
import { baseOptions, connectOnce, PlatformaticKafkaError, protocolErrorOf } from './connection.js';

export class PlatformaticAdmin implements AdminPort {
  readonly #admin: Admin;
  /** listOffsets lives on the consumer; this one never joins a group. */
  readonly #offsets: Consumer;
  readonly #config: KafkaConnectionConfig;
  constructor(config: KafkaConnectionConfig) {
    this.#config = config;
    this.#admin = new Admin(baseOptions(config, 'admin'));
    this.#offsets = new Consumer({ ...baseOptions(config, 'admin-offsets'), groupId: 'tributary-admin-offsets' });
  }
  async connect(): Promise<void> {
    await connectOnce(this.#admin, this.#config, () => this.#admin.metadata({ topics: [] }));
  }
  async createTopics(topics: readonly TopicSpec[]): Promise<string[]> {
    const existing = new Set(await this.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    // one request per topic: another process may create one meanwhile, and TOPIC_ALREADY_EXISTS fails the request
    const created = await Promise.all(
      missing.map(async (t) => {
        try {
          await this.#admin.createTopics({
            topics: [t.topic],
            partitions: t.partitions,
            replicas: t.replicationFactor ?? -1,
            configs: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
          });
          return t.topic;
        } catch (error) {
          if (protocolErrorOf(error, 'TOPIC_ALREADY_EXISTS')) return undefined;
          throw new PlatformaticKafkaError(error);
        }
      }),
    );
    const made = created.filter((topic) => topic !== undefined);
    if (made.length > 0) await this.#awaitLeaders(made);
    return made;
  }
  /**
   * A topic is usable once every partition has a leader and that leader serves its offsets: metadata may name a
   * leader before it answers a ListOffsets (seen as NOT_LEADER_OR_FOLLOWER just after creation). Rejects after 30 s,
   * naming what is not ready.
   */
  async #awaitLeaders(topics: string[]): Promise<void> {
    const deadline = Date.now() + 30_000;
    let lastError: unknown;
    for (;;) {
      try {
        const metadata = await this.#admin.metadata({ topics, forceUpdate: true });
        const ready = topics.every((t) => {
          const topic = metadata.topics.get(t);
          return topic?.partitions.every((p) => p.leader >= 0) === true;
        });
        if (ready) {
          await this.#offsets.listOffsets({ topics, timestamp: ListOffsetTimestamps.LATEST });
          return;
        }
        lastError = new Error('no leader yet');
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) {
        const reason = lastError instanceof Error ? lastError.message : String(lastError);
        throw new Error(`topics without a serving leader after 30000 ms: ${topics.join(', ')} (${reason})`, {
          cause: lastError,
        });
      }
      await new Promise((done) => setTimeout(done, 100));
    }
  }
  async listTopics(): Promise<string[]> {
    try {
      return await this.#admin.listTopics();
    } catch (error) {
      throw new PlatformaticKafkaError(error);
    }
  }
  async endOffsets(topic: string): Promise<PartitionOffsets[]> {
    try {
      const [low, high] = await Promise.all(
        [ListOffsetTimestamps.EARLIEST, ListOffsetTimestamps.LATEST].map((timestamp) =>
          this.#offsets.listOffsets({ topics: [topic], timestamp }),
        ),
      );
      const lows = low?.get(topic) ?? [];
      const highs = high?.get(topic) ?? [];
      return highs.map((h, partition) => ({ partition, low: lows[partition] ?? 0n, high: h }));
    } catch (error) {
      throw new PlatformaticKafkaError(error);
    }
  }
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    try {
      const groups = await this.#admin.listConsumerGroupOffsets({ groups: [groupId] });
      const committed = new Map<number, bigint>();
      for (const group of groups) {
        for (const t of group.topics) {
          if (t.name !== topic) continue;
          for (const p of t.partitions) if (p.committedOffset >= 0n) committed.set(p.partitionIndex, p.committedOffset);
        }
      }
      return committed;
    } catch (error) {
      throw new PlatformaticKafkaError(error);
    }
  }
  async disconnect(): Promise<void> {
    await Promise.all([this.#admin.close(), this.#offsets.close()]);
  }
}
