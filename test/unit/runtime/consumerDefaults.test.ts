/**
 * What the engine asks of each pipeline's consumer: the pipeline's tuning as it is, and a heartbeat every second
 * unless the pipeline sets its own (a joining member gets partitions once the others noticed at their next heartbeat).
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, definePipeline, type Engine, type PipelineConsumerTuning } from '../../../src/index.js';
import type { ConsumerOptions, ConsumerPort } from '../../../src/kafka/ports.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../../../src/runtime/definePipeline.js';
import { MemoryKafka } from '../../../src/testing/memoryKafka/memoryKafka.js';

/** The in-memory client, remembering the options of every consumer it creates. */
class RecordingKafka extends MemoryKafka {
  readonly consumerOptions: ConsumerOptions[] = [];
  override consumer(options: ConsumerOptions): ConsumerPort {
    this.consumerOptions.push(options);
    return super.consumer(options);
  }
}

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function consumerOptionsFor(consumer: PipelineConsumerTuning | undefined): Promise<ConsumerOptions> {
  const kafka = new RecordingKafka({ autoCreateTopics: true });
  engine = createEngine({
    pipelines: [
      definePipeline({
        name: 'defaults',
        source: { topics: ['in'], groupId: 'defaults-group' },
        deadLetter: { topic: 'dlq' },
        ...(consumer === undefined ? {} : { consumer }),
        build: (records) => records,
      }),
    ],
    kafka: { client: kafka },
    logger: pino({ level: 'silent' }),
  });
  await engine.start();
  expect(kafka.consumerOptions).toHaveLength(1);
  return kafka.consumerOptions[0] as ConsumerOptions;
}

describe('consumer options', () => {
  it('a pipeline without consumer tuning heartbeats every second', async () => {
    expect(DEFAULT_HEARTBEAT_INTERVAL_MS).toBe(1000);
    expect(await consumerOptionsFor(undefined)).toEqual({ groupId: 'defaults-group', heartbeatIntervalMs: 1000 });
  });

  it("a pipeline's own heartbeat interval and other tuning reach the consumer as they are", async () => {
    const tuning = { sessionTimeoutMs: 20_000, heartbeatIntervalMs: 2_500, maxWaitTimeMs: 100, maxBytes: 262_144 };
    expect(await consumerOptionsFor(tuning)).toEqual({ groupId: 'defaults-group', ...tuning });
  });

  it('tuning without a heartbeat interval keeps the default beside it', async () => {
    expect(await consumerOptionsFor({ sessionTimeoutMs: 20_000 })).toEqual({
      groupId: 'defaults-group',
      sessionTimeoutMs: 20_000,
      heartbeatIntervalMs: 1000,
    });
  });
});
