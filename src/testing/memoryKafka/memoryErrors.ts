/**
 * The errors the in-memory Kafka client raises, shaped like the kafkajs errors the engine classifies (a protocol
 * `type` and a `retriable` flag), so `isPermanentSendError` and `isTopicRefusal` read them as they read a broker's.
 */

/** A refusal by the in-memory broker: Kafka's error name in `type`, and whether another attempt can help. */
export class MemoryKafkaError extends Error {
  override name = 'MemoryKafkaError';
  readonly type: string;
  readonly retriable: boolean;
  constructor(type: string, message: string, retriable: boolean) {
    super(`${message} (${type})`);
    this.type = type;
    this.retriable = retriable;
  }
}

/** The group is rebalancing: the batch in hand is stale. Thrown by `heartbeat()`; the consumer rejoins. */
export class RebalanceInProgressError extends MemoryKafkaError {
  override name = 'MemoryKafkaRebalanceError';
  constructor(groupId: string) {
    super('REBALANCE_IN_PROGRESS', `group ${groupId} is rebalancing`, true);
  }
}

export function unknownTopic(topic: string): MemoryKafkaError {
  return new MemoryKafkaError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} does not exist`, true);
}
