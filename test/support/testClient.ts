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

/** What {@link countingKafkaClient}'s consumers saw: records handed over to the engine, and the engine's pauses. */
export interface ConsumerCounts {
  fetched: number;
  pauses: number;
}

/**
 * The broker tests' real client (see {@link testKafkaClient}) with its consumers counting the records they hand over
 * and how often the engine pauses partitions.
 */
export function countingKafkaClient(config: KafkaConnectionConfig): {
  client: KafkaClientPort;
  counts: ConsumerCounts;
} {
  const real = testKafkaClient(config);
  const counts: ConsumerCounts = { fetched: 0, pauses: 0 };
  const client: KafkaClientPort = {
    producer: (options) => real.producer(options),
    admin: () => real.admin(),
    consumer: (options) => {
      const consumer = real.consumer(options);
      const run = consumer.run.bind(consumer);
      const pause = consumer.pause.bind(consumer);
      consumer.run = (handler) =>
        run((batch, control) => {
          counts.fetched += batch.records.length;
          return handler(batch, control);
        });
      consumer.pause = (partitions) => {
        counts.pauses++;
        pause(partitions);
      };
      return consumer;
    },
  };
  return { client, counts };
}
