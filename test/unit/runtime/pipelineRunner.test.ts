/**
 * The supervisor (PipelineRunner) on a client without a broker: crash → backoff → restart, and a stop that does not
 * wait for the backoff. Timers are faked, so the backoff's length never becomes test time.
 */
import pino from 'pino';
import { throwError } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { definePipeline } from '../../../src/index.js';
import { noopObserver } from '../../../src/instrumentation.js';
import type { ConsumerPort, KafkaClientPort } from '../../../src/kafka/ports.js';
import { crashBackoffMs, PipelineRunner } from '../../../src/runtime/pipelineRunner.js';
import type { ProducerBatcher } from '../../../src/runtime/producerBatcher.js';

function idleConsumer(): ConsumerPort {
  return {
    connect: async () => {},
    subscribe: async () => {},
    run: async () => {},
    commit: async () => {},
    pause: () => {},
    resume: () => {},
    onAssigned: () => () => {},
    onRebalancing: () => () => {},
    onFatal: () => () => {},
    onInterrupted: () => () => {},
    onUnsubscribedTopics: () => () => {},
    onEmptyBatch: () => () => {},
    disconnect: async () => {},
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PipelineRunner', () => {
  it('backs off 0.5 s doubling to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(crashBackoffMs)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('restarts a chain that fails on every start with a growing backoff, and a stop ends the backoff at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let builds = 0;
    const pipeline = definePipeline({
      name: 'failing',
      source: { topics: ['in'], groupId: 'failing-group' },
      deadLetter: { topic: 'dlq' },
      build: () => {
        builds++;
        return throwError(() => new Error('cannot create the pool'));
      },
    });
    const client = { consumer: () => idleConsumer() } as unknown as KafkaClientPort;
    const runner = new PipelineRunner(pipeline, {
      client,
      producer: {} as ProducerBatcher,
      logger: pino({ level: 'silent' }),
      observer: noopObserver,
    });
    await runner.start();
    expect(builds).toBe(1);
    expect(runner.state).toBe('restarting');
    for (const delay of [500, 1000, 2000, 4000]) {
      await vi.advanceTimersByTimeAsync(delay - 1);
      const before = builds;
      await vi.advanceTimersByTimeAsync(1);
      expect(builds).toBe(before + 1); // restarted exactly when its backoff ended
    }
    expect(runner.notReadyReason).toBe('restarting after a crash: cannot create the pool');
    // now in an 8 s backoff: stop() must not wait for it (timers do not move from here on)
    await runner.stop();
    expect(runner.state).toBe('stopped');
    expect(builds).toBe(5);
  });
});
