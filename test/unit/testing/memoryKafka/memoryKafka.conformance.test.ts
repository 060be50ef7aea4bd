/** The KafkaClientPort conformance suite on the in-memory client: the same behaviour tests the kafkajs adapter passes. */
import { randomUUID } from 'node:crypto';
import { createMemoryKafka } from '../../../../src/testing/memoryKafka/memoryKafka.js';
import { describeKafkaClientPort } from '../../../conformance/kafkaClientPort.js';

// one in-memory broker for the file, like the one real broker of the integration suite
const kafka = createMemoryKafka();

describeKafkaClientPort('in-memory', {
  client: () => kafka,
  uniqueName: (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`,
  // nothing is in flight between two turns of the event loop: a short watch sees what a long one would
  quietMs: 50,
});
