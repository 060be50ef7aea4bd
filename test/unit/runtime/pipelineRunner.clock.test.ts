/**
 * The supervisor on a manual clock: its crash backoff is fake time (500, 1000, 2000 ms), `restartNow()` ends a
 * backoff at once, the `crashed` hook hears each crash once before its backoff, and a run that stayed up
 * HEALTHY_AFTER_MS of clock time resets the backoff.
 */
import pino from 'pino';
import { EMPTY, type Observable, Subject, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { definePipeline } from '../../../src/index.js';
import { noopObserver } from '../../../src/instrumentation.js';
import type { ConsumerPort, KafkaClientPort } from '../../../src/kafka/ports.js';
import { HEALTHY_AFTER_MS, PipelineRunner } from '../../../src/runtime/pipelineRunner.js';
import type { ProducerBatcher } from '../../../src/runtime/producerBatcher.js';
import { ManualClock, settle } from '../../support/manualClock.js';

function idleConsumer(connect: () => Promise<void> = async () => {}): ConsumerPort {
  return {
    connect,
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

interface Harness {
  runner: PipelineRunner;
  clock: ManualClock;
  crashes: { pipeline: string; message: string }[];
  builds: () => number;
}

/**
 * A runner whose chain is made by `build` (called once per run) and whose consumers come from `consumer`;
 * `onCrashed` runs inside the `crashed` hook.
 */
function harness(
  build: (run: number) => Observable<never>,
  consumer: (run: number) => ConsumerPort = () => idleConsumer(),
  onCrashed: (runner: PipelineRunner) => void = () => {},
): Harness {
  const clock = new ManualClock(1_000_000);
  let builds = 0;
  let consumers = 0;
  const pipeline = definePipeline({
    name: 'clocked',
    source: { topics: ['in'], groupId: 'clocked-group' },
    deadLetter: { topic: 'dlq' },
    build: () => build(++builds),
  });
  const client = { consumer: () => consumer(++consumers) } as unknown as KafkaClientPort;
  const crashes: Harness['crashes'] = [];
  const runner = new PipelineRunner(pipeline, {
    client,
    producer: {} as ProducerBatcher,
    logger: pino({ level: 'silent' }),
    observer: noopObserver,
    clock,
    crashed: (name, error) => {
      crashes.push({ pipeline: name, message: (error as Error).message });
      onCrashed(runner);
    },
  });
  return { runner, clock, crashes, builds: () => builds };
}

const failing = () => throwError(() => new Error('cannot create the pool'));

describe('PipelineRunner on a manual clock', () => {
  it('backs off 500, 1000, 2000 ms of clock time between restarts, and tells each crash once', async () => {
    const { runner, clock, crashes, builds } = harness(failing);
    await runner.start(); // its chain errors while starting
    await settle();
    expect(builds()).toBe(1);
    expect(runner.state).toBe('restarting');
    expect(crashes).toEqual([{ pipeline: 'clocked', message: 'cannot create the pool' }]);
    for (const delay of [500, 1000, 2000]) {
      await clock.advance(delay - 1);
      const before = builds();
      await new Promise((done) => setTimeout(done, 30)); // real time moves nothing
      expect(builds()).toBe(before);
      await clock.advance(1);
      expect(builds()).toBe(before + 1); // restarted exactly when its backoff ended, on the clock
      expect(crashes.length).toBe(builds());
    }
    await runner.stop();
    expect(runner.state).toBe('stopped');
    expect(clock.pending).toBe(0); // the backoff's timer is cancelled, the watchdog stopped
  });

  it('restartNow() ends a backoff at once; the next backoff still grows', async () => {
    const { runner, clock, builds } = harness(failing);
    await runner.start();
    await settle();
    expect(builds()).toBe(1);
    runner.restartNow();
    await settle();
    expect(builds()).toBe(2); // no clock time passed
    await clock.advance(999);
    expect(builds()).toBe(2);
    await clock.advance(1);
    expect(builds()).toBe(3); // the second backoff was 1000 ms
    await runner.stop();
  });

  it('restartNow() from the crashed hook, before the backoff began, skips that backoff', async () => {
    let restarts = 0;
    const { runner, clock, builds } = harness(failing, undefined, (self) => {
      if (restarts++ < 2) self.restartNow(); // the first two crashes only
    });
    const start = clock.now();
    await runner.start();
    await settle();
    await settle();
    expect(builds()).toBe(3); // two backoffs skipped without clock time
    expect(clock.now()).toBe(start);
    await clock.advance(1999);
    expect(builds()).toBe(3);
    await clock.advance(1); // the third crash's backoff (2000 ms) was kept
    expect(builds()).toBe(4);
    await runner.stop();
  });

  it('a stop that comes while the crashed run is still closing does not wait for the backoff', async () => {
    let releaseDisconnect: (() => void) | undefined;
    const chain = new Subject<never>();
    const { runner, clock } = harness(
      () => chain,
      () => ({
        ...idleConsumer(),
        disconnect: () =>
          new Promise<void>((done) => {
            releaseDisconnect = done;
          }),
      }),
    );
    await runner.start();
    chain.error(new Error('stage blew up'));
    await settle();
    expect(releaseDisconnect).toBeDefined(); // the failed run is closing
    let stopped = false;
    const stopping = runner.stop().then(() => {
      stopped = true;
    });
    releaseDisconnect?.();
    await settle();
    expect(stopped).toBe(true); // no clock time passed: the 500 ms backoff was not waited for
    expect(runner.state).toBe('stopped');
    expect(clock.pending).toBe(0);
    await stopping;
  });

  it('a chain that completes while its run starts stops the pipeline for good, leaving no timer behind', async () => {
    let disconnects = 0;
    const { runner, clock, builds, crashes } = harness(
      () => EMPTY,
      () => ({
        ...idleConsumer(),
        disconnect: async () => {
          disconnects++;
        },
      }),
    );
    await runner.start();
    await settle();
    expect(runner.state).toBe('completed');
    expect(runner.notReadyReason).toBe('stopped: its operator chain completed');
    expect(disconnects).toBe(1);
    expect(clock.pending).toBe(0); // neither the run's commit loop nor the watchdog keeps running
    await clock.advance(60_000);
    expect(builds()).toBe(1);
    expect(crashes).toEqual([]);
    await runner.stop();
    expect(runner.state).toBe('completed');
  });

  it('a restarted run whose chain completes while starting stops the pipeline for good', async () => {
    const { runner, clock, builds } = harness((run) => (run === 1 ? failing() : EMPTY));
    await runner.start();
    await settle();
    expect(runner.state).toBe('restarting');
    await clock.advance(500);
    expect(builds()).toBe(2);
    expect(runner.state).toBe('completed');
    expect(clock.pending).toBe(0);
    await runner.stop();
    expect(runner.state).toBe('completed');
  });

  it('restartNow() does nothing while the pipeline runs', async () => {
    const chain = new Subject<never>();
    const { runner, builds, crashes } = harness(() => chain);
    await runner.start();
    runner.restartNow();
    await settle();
    expect(runner.state).toBe('running');
    expect(builds()).toBe(1);
    expect(crashes).toEqual([]);
    await runner.stop();
  });

  it('tells a crash of a restarted run that fails while starting (its consumer cannot connect)', async () => {
    const chains: Subject<never>[] = [];
    const { runner, clock, crashes } = harness(
      () => {
        const chain = new Subject<never>();
        chains.push(chain);
        return chain;
      },
      (n) =>
        idleConsumer(async () => {
          if (n === 2) throw new Error('broker unreachable');
        }),
    );
    await runner.start();
    chains[0]?.error(new Error('stage blew up'));
    await settle();
    expect(crashes.map((c) => c.message)).toEqual(['stage blew up']);
    await clock.advance(500); // run 2 starts and fails to connect
    expect(crashes.map((c) => c.message)).toEqual(['stage blew up', 'broker unreachable']);
    expect(runner.state).toBe('restarting');
    await clock.advance(999);
    expect(runner.state).toBe('restarting');
    await clock.advance(1); // run 3 starts
    expect(runner.state).toBe('running');
    expect(runner.notReadyReason).toBe('waiting to join its group');
    await runner.stop();
  });

  it('a run that stayed up HEALTHY_AFTER_MS of clock time resets the backoff to 500 ms', async () => {
    const chains: Subject<never>[] = [];
    const { runner, clock, builds } = harness(() => {
      const chain = new Subject<never>();
      chains.push(chain);
      return chain;
    });
    await runner.start();
    chains[0]?.error(new Error('one'));
    await clock.advance(500);
    chains[1]?.error(new Error('two')); // at once: the backoff grows
    await clock.advance(999);
    expect(builds()).toBe(2);
    await clock.advance(1);
    expect(builds()).toBe(3);
    await clock.advance(HEALTHY_AFTER_MS); // run 3 stays up a minute of clock time
    chains[2]?.error(new Error('three'));
    await clock.advance(499);
    expect(builds()).toBe(3);
    await clock.advance(1);
    expect(builds()).toBe(4);
    await runner.stop();
  });
});
