/**
 * A KafkaClientPort without a broker, for the CLI's wiring tests: the consumer joins its group when the test says
 * so, the admin answers end and committed offsets from tables the test fills, and connect() can be made to fail.
 */
import type {
  AdminPort,
  AssignmentEvent,
  ConsumerPort,
  KafkaClientPort,
  PartitionOffsets,
  ProducerPort,
  TopicPartition,
  TopicSpec,
} from '../../../src/index.js';

export interface FakeKafka {
  readonly client: KafkaClientPort;
  /** Delivers a group join with this assignment to every consumer that runs. */
  join(assignment: readonly TopicPartition[]): void;
  /** Topics the broker has besides those in `ends` (listTopics answers both). */
  readonly topics: Set<string>;
  /** End offsets by topic (low, high per partition). */
  readonly ends: Map<string, PartitionOffsets[]>;
  /** Committed offsets by `group\0topic`. */
  readonly committed: Map<string, Map<number, bigint>>;
  /** Topics createTopics was asked for, in order. */
  readonly createdTopics: TopicSpec[];
  /** The next producer connect fails with this error. */
  failProducerConnect(error: Error): void;
  /** How many consumers are connected now. */
  connectedConsumers(): number;
}

export function fakeKafka(): FakeKafka {
  const assignedListeners = new Set<(event: AssignmentEvent) => void>();
  const ends = new Map<string, PartitionOffsets[]>();
  const topics = new Set<string>();
  const committed = new Map<string, Map<number, bigint>>();
  const createdTopics: TopicSpec[] = [];
  let producerError: Error | undefined;
  let connected = 0;

  const consumer = (): ConsumerPort => {
    const mine = new Set<(event: AssignmentEvent) => void>();
    return {
      async connect() {
        connected++;
      },
      async subscribe() {},
      async run() {},
      async commit() {},
      pause() {},
      resume() {},
      onAssigned(listener) {
        mine.add(listener);
        assignedListeners.add(listener);
        return () => {
          mine.delete(listener);
          assignedListeners.delete(listener);
        };
      },
      onRebalancing: () => () => {},
      onFatal: () => () => {},
      onInterrupted: () => () => {},
      onUnsubscribedTopics: () => () => {},
      onEmptyBatch: () => () => {},
      async disconnect() {
        connected--;
        for (const listener of mine) assignedListeners.delete(listener);
      },
    };
  };

  const producer = (): ProducerPort => ({
    async reset() {},
    async connect() {
      if (producerError) {
        const error = producerError;
        producerError = undefined;
        throw error;
      }
    },
    async send() {},
    async disconnect() {},
  });

  const admin = (): AdminPort => ({
    async connect() {},
    async createTopics(topics) {
      createdTopics.push(...topics);
      return topics.map((t) => t.topic);
    },
    async listTopics() {
      return [...new Set([...ends.keys(), ...topics])];
    },
    async endOffsets(topic) {
      const found = ends.get(topic);
      if (!found) throw new Error('This server does not host this topic-partition');
      return found;
    },
    async committedOffsets(group, topic) {
      return committed.get(`${group}\u0000${topic}`) ?? new Map();
    },
    async disconnect() {},
  });

  return {
    client: { consumer, producer, admin },
    topics,
    join(assignment) {
      for (const listener of [...assignedListeners]) listener({ assignment, memberId: 'fake-member' });
    },
    ends,
    committed,
    createdTopics,
    failProducerConnect(error) {
      producerError = error;
    },
    connectedConsumers: () => connected,
  };
}
