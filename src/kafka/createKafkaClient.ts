/**
 * The client port for a connection config: its `library` picks the adapter, @platformatic/kafka unless 'kafkajs'.
 * @platformatic/kafka is the default because it is the faster of the two on the workload benchmark (bench/README.md)
 * and passes the same conformance suite and broker tests; kafkajs stays selectable (KAFKA_CLIENT=kafkajs).
 *
 * The @platformatic/kafka adapter is imported only here, when a client is made: loading that library takes about
 * 0.8 s of CPU (it compiles its JSON schemas), which a process that never connects should not pay — the primary of
 * `tributary run` with workers, a pipeline module loaded for its definition, users' unit tests on the test driver.
 */
import { createKafkajsClient, type KafkaConnectionConfig } from './kafkajsClient.js';
import type { KafkaClientPort } from './ports.js';

export async function createKafkaClient(config: KafkaConnectionConfig): Promise<KafkaClientPort> {
  if (config.library === 'kafkajs') return createKafkajsClient(config);
  const { createPlatformaticClient } = await import('./platformaticClient.js');
  return createPlatformaticClient(config);
}
