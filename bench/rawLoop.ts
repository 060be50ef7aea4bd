/**
 * Variant (a): the passthrough a user writes by hand with kafkajs. Each fetched partition batch becomes one
 * sendBatch to the output topic (idempotent producer, acks = all); once acknowledged, the batch's offsets are
 * committed and the consumer heartbeats. Same consumer and producer settings as the engine's kafkajs adapter.
 */
import { type Message, Partitioners } from 'kafkajs';
import { benchKafka } from './support.js';
import { runVariant } from './variant.js';

runVariant('rawLoop', async (args) => {
  const kafka = benchKafka(args.brokers, 'bench-raw-loop');
  const consumer = kafka.consumer({ groupId: args.groupId, allowAutoTopicCreation: false });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [args.input], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat }) => {
      if (batch.messages.length === 0) return;
      const messages: Message[] = batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers }));
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic: args.output, messages }] });
      const next = (BigInt(batch.lastOffset()) + 1n).toString();
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      await heartbeat();
    },
  });
  return {
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
});
