/** The KafkaClientPort conformance suite on the kafkajs adapter, against the run's broker. */
import { createKafkajsClient } from '../../../src/kafka/kafkajsClient.js';
import { describeKafkaClientPort } from '../../conformance/kafkaClientPort.js';
import { bootstrapServers, uniqueName } from '../../support/kafka.js';

describeKafkaClientPort('kafkajs', {
  client: () => createKafkajsClient({ brokers: bootstrapServers(), clientId: 'tributary-conformance' }),
  uniqueName,
  // kafkajs lists a broker's partitions in the same order in every fetch, without a fetch session
  fairFetches: false,
});
