/**
 * Contender (e): the workload as a well-written hand loop on @platformatic/kafka — what kafkajsLoop.ts does on
 * kafkajs, written the way the client is meant to be used.
 *
 * - `Consumer.consume()` joins the group and returns a MessagesStream (mode `committed`, fallback `earliest`:
 *   committed offsets, else the beginning; `autocommit: false`). A permanent 'data' listener reads it (the stream
 *   fetches only while someone reads): each record is parsed, validated (the same zod schema), enriched and added
 *   to the current produce request (valid ones to the output keyed by userId, invalid ones to the DLQ with a
 *   `dlq-reason` header, in the same request). A request is sent at {@link CHUNK} records, or once the records
 *   handed over in one go (one fetch response) are in it (setImmediate), without waiting; at most
 *   {@link MAX_IN_FLIGHT} requests are in flight, then the stream is paused until one is acknowledged
 *   (backpressure; the stream stops fetching while paused).
 * - At-least-once: every {@link COMMIT_INTERVAL_MS} one OffsetCommit (`consumer.commit({ offsets })`) commits, per
 *   partition, the offset after the last record of the requests whose predecessors were all acknowledged (acks =
 *   all). A failed send, commit or stream crashes the process; what was not committed is consumed again. The
 *   producer is not idempotent (the client's idempotent producer allows one request in flight), as in (b).
 * - Keys are partitioned like Java and kafkajs (`compatibilityPartitioner`; the client's default does not mask
 *   murmur2 to 31 bits). Consumer settings: the client's defaults, long-poll 500 ms like the engine and (b).
 */
import {
  type CommitOptionsPartition,
  Consumer,
  compatibilityPartitioner,
  type Message,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  type MessageToProduce,
  ProduceAcks,
  Producer,
} from '@platformatic/kafka';
import { runVariant } from '../variant.js';
import { enrich, outputKey, WorkloadEvent } from './definition.js';

const CHUNK = 1000;
const MAX_IN_FLIGHT = 5;
const COMMIT_INTERVAL_MS = 1000;
const DLQ_REASON = Buffer.from('dlq-reason');

/** One produce request: its records and, per input partition, the offset to commit once it (and all before it) is acknowledged. */
interface Request {
  messages: MessageToProduce[];
  next: Map<number, CommitOptionsPartition>;
  done: boolean;
}

const newRequest = (): Request => ({ messages: [], next: new Map(), done: false });

runVariant('platformaticLoop', async (args) => {
  const connection = {
    bootstrapBrokers: args.brokers,
    autocreateTopics: false,
    retries: 3,
    retryDelay: 250,
  };
  const producer = new Producer({
    ...connection,
    clientId: 'bench-platformatic-loop-producer',
    idempotent: false,
    acks: ProduceAcks.ALL,
    maxInflights: MAX_IN_FLIGHT,
    partitioner: compatibilityPartitioner,
  });
  const consumer = new Consumer({
    ...connection,
    clientId: 'bench-platformatic-loop-consumer',
    groupId: args.groupId,
    autocommit: false,
    maxWaitTime: 500,
  });

  let stopping = false;
  const crash = (error: unknown): void => {
    if (stopping) return;
    process.stderr.write(
      `[platformaticLoop] failed: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
    );
    process.exit(1);
  };

  const stream = await consumer.consume({
    topics: [args.input],
    mode: MessagesStreamModes.COMMITTED,
    fallbackMode: MessagesStreamFallbackModes.EARLIEST,
    autocommit: false,
  });
  stream.on('error', crash);

  /** Sent requests in send order; the acknowledged ones at the front are committed. */
  const sent: Request[] = [];
  const inFlight = new Set<Promise<void>>();
  /** Full requests waiting for a free slot. */
  const ready: Request[] = [];
  let current = newRequest();
  let flushScheduled: NodeJS.Immediate | undefined;
  let pausedByUs = false;

  const send = (request: Request): void => {
    sent.push(request);
    const tracked = producer
      .send({ messages: request.messages })
      .then(() => {
        request.done = true;
      }, crash)
      .finally(() => {
        inFlight.delete(tracked);
        pump();
      });
    inFlight.add(tracked);
  };

  function pump(): void {
    while (ready.length > 0 && inFlight.size < MAX_IN_FLIGHT && !stopping) send(ready.shift() as Request);
    if (ready.length > 0 && !pausedByUs) {
      pausedByUs = true;
      stream.pause();
    } else if (ready.length === 0 && pausedByUs && !stopping) {
      pausedByUs = false;
      stream.resume();
    }
  }

  const flush = (): void => {
    flushScheduled = undefined;
    if (current.messages.length === 0) return;
    ready.push(current);
    current = newRequest();
    pump();
  };

  stream.on('data', (m: Message) => {
    if (stopping) return;
    let reason: string | undefined;
    try {
      const parsed = WorkloadEvent.safeParse(JSON.parse(m.value?.toString() ?? 'null'));
      if (parsed.success) {
        const event = enrich(parsed.data);
        current.messages.push({
          topic: args.output,
          key: Buffer.from(outputKey(event)),
          value: Buffer.from(JSON.stringify(event)),
        });
      } else {
        reason = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      }
    } catch (error) {
      reason = `malformed JSON: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (reason !== undefined) {
      const headers = new Map(m.headers);
      headers.set(DLQ_REASON, Buffer.from(reason));
      current.messages.push({ topic: args.dlq, key: m.key, value: m.value, headers });
    }
    current.next.set(m.partition, {
      topic: m.topic,
      partition: m.partition,
      offset: m.offset + 1n,
      leaderEpoch: m.leaderEpoch,
    });
    if (current.messages.length >= CHUNK) {
      if (flushScheduled) clearImmediate(flushScheduled);
      flush();
    } else {
      flushScheduled ??= setImmediate(flush);
    }
  });

  const commit = async (): Promise<void> => {
    const offsets = new Map<number, CommitOptionsPartition>();
    while (sent.length > 0 && sent[0]?.done) {
      for (const [partition, next] of (sent.shift() as Request).next) offsets.set(partition, next);
    }
    if (offsets.size > 0) await consumer.commit({ offsets: [...offsets.values()] });
  };
  let committing = Promise.resolve();
  const timer = setInterval(() => {
    committing = committing.then(commit).catch(crash);
  }, COMMIT_INTERVAL_MS);

  return {
    async stop() {
      clearInterval(timer);
      if (flushScheduled) clearImmediate(flushScheduled);
      // records not sent yet are dropped: never sent, never committed
      stopping = true;
      stream.pause();
      await Promise.all(inFlight);
      await committing;
      await commit();
      await stream.close();
      await consumer.close();
      await producer.close();
    },
  };
});
