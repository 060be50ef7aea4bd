/**
 * The client port for a connection config: its `library` picks the adapter, @platformatic/kafka unless 'kafkajs'.
 * @platformatic/kafka is the default because it is the faster of the two on the workload benchmark (bench/README.md)
 * and passes the same conformance suite and broker tests; kafkajs stays selectable (KAFKA_CLIENT=kafkajs).
 */
import { createKafkajsClient, type KafkaConnectionConfig } from './kafkajsClient.js';
import { createPlatformaticClient } from './platformaticClient.js';
import type { KafkaClientPort } from './ports.js';

export function createKafkaClient(config: KafkaConnectionConfig): KafkaClientPort {
  return config.library === 'kafkajs' ? createKafkajsClient(config) : createPlatformaticClient(config);
}
