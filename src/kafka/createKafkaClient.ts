/** The client port for a connection config: its `library` picks the adapter (kafkajs unless 'platformatic'). */
import { createKafkajsClient, type KafkaConnectionConfig } from './kafkajsClient.js';
import { createPlatformaticClient } from './platformaticClient.js';
import type { KafkaClientPort } from './ports.js';

export function createKafkaClient(config: KafkaConnectionConfig): KafkaClientPort {
  return config.library === 'platformatic' ? createPlatformaticClient(config) : createKafkajsClient(config);
}
