/**
 * The @platformatic/kafka adapter (KAFKA_CLIENT=platformatic): the only files that import @platformatic/kafka are
 * this one and src/kafka/platformatic/. The consumer runs its own fetch loop on the client's Fetch and group APIs
 * (see platformatic/consumer.ts for why not the client's stream), the producer chooses partitions itself (see
 * platformatic/producer.ts), the admin adds what kafkajs' admin does (waiting for leaders, one request per topic).
 */
import type { KafkaConnectionConfig } from './kafkajsClient.js';
import { PlatformaticAdmin } from './platformatic/admin.js';
import { PlatformaticConsumer } from './platformatic/consumer.js';
import { PlatformaticProducer } from './platformatic/producer.js';
import type { ConsumerOptions, KafkaClientPort, ProducerOptions } from './ports.js';

/** A KafkaClientPort backed by @platformatic/kafka. */
export function createPlatformaticClient(config: KafkaConnectionConfig): KafkaClientPort {
  return {
    consumer: (options: ConsumerOptions) => new PlatformaticConsumer(config, options),
    producer: (options: ProducerOptions = {}) => new PlatformaticProducer(config, options),
    admin: () => new PlatformaticAdmin(config),
  };
}
