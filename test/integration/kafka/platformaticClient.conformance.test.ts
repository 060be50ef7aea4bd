/** The KafkaClientPort conformance suite on the @platformatic/kafka adapter, against the run's broker. */
import { createPlatformaticClient } from '../../../src/kafka/platformaticClient.js';
import { describeKafkaClientPort } from '../../conformance/kafkaClientPort.js';
import { bootstrapServers, uniqueName } from '../../support/kafka.js';

describeKafkaClientPort('@platformatic/kafka', {
  client: () => createPlatformaticClient({ brokers: bootstrapServers(), clientId: 'tributary-conformance' }),
  uniqueName,
});
