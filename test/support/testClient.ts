/**
 * Which Kafka client library the engines of the broker tests use: TRIBUTARY_TEST_CLIENT=platformatic runs the same
 * test files on the @platformatic/kafka adapter (child workers inherit the variable); unset or kafkajs, on kafkajs.
 */
export type TestKafkaLibrary = 'kafkajs' | 'platformatic';

export function testKafkaLibrary(): TestKafkaLibrary {
  const value = process.env.TRIBUTARY_TEST_CLIENT?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'kafkajs') return 'kafkajs';
  if (value === 'platformatic') return 'platformatic';
  throw new Error(`TRIBUTARY_TEST_CLIENT: expected kafkajs or platformatic, got ${JSON.stringify(value)}`);
}
