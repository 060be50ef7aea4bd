import { createKafkajsClient, type KafkaConnectionConfig } from '../../src/kafka/kafkajsClient.js';
import { createPlatformaticClient } from '../../src/kafka/platformaticClient.js';
import type { KafkaClientPort } from '../../src/kafka/ports.js';

/**
 * Which Kafka client library the engines of the broker tests use: unset or platformatic, the engine's default
 * (@platformatic/kafka); TRIBUTARY_TEST_CLIENT=kafkajs runs the same test files on the kafkajs adapter (child workers
 * and CLI children inherit it).
 */
export type TestKafkaLibrary = 'kafkajs' | 'platformatic';

export function testKafkaLibrary(): TestKafkaLibrary {
  const value = process.env.TRIBUTARY_TEST_CLIENT?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'platformatic') return 'platformatic';
  if (value === 'kafkajs') return 'kafkajs';
  throw new Error(`TRIBUTARY_TEST_CLIENT: expected kafkajs or platformatic, got ${JSON.stringify(value)}`);
}

/** A client port of the broker tests' library (see {@link testKafkaLibrary}). */
export function testKafkaClient(config: KafkaConnectionConfig): KafkaClientPort {
  const library = testKafkaLibrary();
  return library === 'kafkajs'
    ? createKafkajsClient({ ...config, library })
    : createPlatformaticClient({ ...config, library });
}
