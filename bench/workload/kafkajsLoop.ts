/**
 * Contender (b): the workload as a well-written hand loop on kafkajs — what a careful user writes without a framework.
 *
 * - `eachBatch` parses, validates (the same zod schema), enriches and splits each fetched batch into produce
 *   requests of at most {@link CHUNK} records (valid ones to the output keyed by userId, invalid ones to the DLQ
 *   with a `dlq-reason` header, in the same request), sends them without waiting and returns, so kafkajs fetches
 *   on while they are in flight; at most {@link MAX_IN_FLIGHT} requests are in flight (then eachBatch waits for
 *   the oldest: backpressure).
 * - At-least-once: every {@link COMMIT_INTERVAL_MS} each partition commits the offset after the last request whose
 *   predecessors were all acknowledged (acks = all). A failed send crashes the process; what was not committed is
 *   consumed again. The producer is not idempotent (kafkajs' idempotent producer allows one request in flight), so
 *   a retried request may reorder records within a partition — fine for at-least-once.
 * - Consumer settings: kafkajs' defaults (as the engine's), long-poll 500 ms like the engine.
 */
import { type EachBatchPayload, type IHeaders, type Message, Partitioners } from 'kafkajs';
import { benchKafka } from '../support.js';
import { runVariant } from '../variant.js';
import { enrich, outputKey, WorkloadEvent } from './definition.js';

const CHUNK = 1000;
const MAX_IN_FLIGHT = 5;
const COMMIT_INTERVAL_MS = 1000;

interface Pending {
  /** The offset to commit once this request and all before it (of its partition) were acknowledged. */
  next: string;
  done: boolean;
}

runVariant('kafkajsLoop', async (args) => {
  const kafka = benchKafka(args.brokers, 'bench-kafkajs-loop');
  const consumer = kafka.consumer({ groupId: args.groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
  const producer = kafka.producer({
    idempotent: false,
    maxInFlightRequests: MAX_IN_FLIGHT,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [args.input], fromBeginning: true });

  const pendingByPartition = new Map<number, Pending[]>();
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;

  const send = (partition: number, next: string, valid: Message[], invalid: Message[]): Promise<void> => {
    const pending: Pending = { next, done: false };
    let queue = pendingByPartition.get(partition);
    if (!queue) {
      queue = [];
      pendingByPartition.set(partition, queue);
    }
    queue.push(pending);
    const topicMessages = [];
    if (valid.length > 0) topicMessages.push({ topic: args.output, messages: valid });
    if (invalid.length > 0) topicMessages.push({ topic: args.dlq, messages: invalid });
    const request = producer.sendBatch({ acks: -1, topicMessages }).then(
      () => {
        pending.done = true;
      },
      (error: unknown) => {
        failure ??= error;
      },
    );
    const tracked = request.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    return tracked;
  };

  const commit = async (): Promise<void> => {
    const offsets: { topic: string; partition: number; offset: string }[] = [];
    for (const [partition, queue] of pendingByPartition) {
      let next: string | undefined;
      while (queue.length > 0 && queue[0]?.done) next = queue.shift()?.next;
      if (next !== undefined) offsets.push({ topic: args.input, partition, offset: next });
    }
    if (offsets.length > 0) await consumer.commitOffsets(offsets);
  };
  let committing = Promise.resolve();
  const timer = setInterval(() => {
    committing = committing.then(commit).catch((error: unknown) => {
      failure ??= error;
    });
  }, COMMIT_INTERVAL_MS);

  let stopping = false;
  let batchDone: Promise<void> = Promise.resolve();
  await consumer.run({
    autoCommit: false,
    eachBatch: async (payload) => {
      // stop() waits for the batch being processed; batches after it are skipped (never sent, never committed)
      if (stopping) return;
      const done = eachBatch(payload);
      batchDone = done.catch(() => {});
      await done;
    },
  });

  async function eachBatch({ batch, heartbeat }: EachBatchPayload): Promise<void> {
    if (failure !== undefined) throw failure;
    let valid: Message[] = [];
    let invalid: Message[] = [];
    for (const m of batch.messages) {
      let reason: string | undefined;
      try {
        const parsed = WorkloadEvent.safeParse(JSON.parse(m.value?.toString() ?? 'null'));
        if (parsed.success) {
          const event = enrich(parsed.data);
          valid.push({ key: outputKey(event), value: JSON.stringify(event) });
        } else {
          reason = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        }
      } catch (error) {
        reason = `malformed JSON: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (reason !== undefined) {
        const headers: IHeaders = { ...m.headers, 'dlq-reason': reason };
        invalid.push({ key: m.key, value: m.value, headers });
      }
      if (valid.length + invalid.length >= CHUNK) {
        while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
        // tracked in inFlight; a failure is kept in `failure` and thrown by the next batch
        send(batch.partition, (BigInt(m.offset) + 1n).toString(), valid, invalid).catch(() => {});
        valid = [];
        invalid = [];
      }
    }
    if (valid.length + invalid.length > 0) {
      while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      send(batch.partition, (BigInt(batch.lastOffset()) + 1n).toString(), valid, invalid).catch(() => {});
    }
    await heartbeat();
  }

  return {
    async stop() {
      clearInterval(timer);
      stopping = true;
      await batchDone;
      await Promise.all(inFlight);
      await committing;
      await commit();
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
});
