/**
 * The supervisor on the in-memory Kafka and a virtual clock, nothing faked: a chain that errors is restarted after
 * 500, 1000, 2000 ms of virtual time, each time from the offsets its failed run committed while closing (what was
 * finished is not processed again, what was in flight is); a run that stayed healthy 60 s resets the backoff; a stop
 * during a backoff ends at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HEALTHY_AFTER_MS, type PipelineRunner } from '../../../src/runtime/pipelineRunner.js';
import { type Decision, type MemoryRuntime, memoryRuntime, offsetsOf } from '../../support/memoryRuntime.js';

const runtimes: MemoryRuntime[] = [];
afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
});

/**
 * A runner on `in` (1 partition) holding offsets 0 ok, 1 ok, 2 ok, 3 slow, 4 poison, 5 ok, 6 ok. While `failing`, the
 * chain holds `slow` records for ever and errors on `poison`; otherwise every record passes.
 */
async function crashingRunner() {
  const rt = await memoryRuntime();
  runtimes.push(rt);
  rt.kafka.createTopic('in', 1);
  rt.append('in', 0, ['ok', 'ok', 'ok', 'slow', 'poison', 'ok', 'ok']);
  const script = { failing: true };
  const decide = ({ value }: { value: string }): Decision => {
    if (!script.failing) return 'pass';
    return value === 'poison' ? 'fail' : value === 'slow' ? 'hold' : 'pass';
  };
  const runner = rt.runner('a', { decide, groupId: 'crashing' });
  return { rt, runner, script };
}

/** Advances to `at - 1` (nothing may restart), then to `at` (exactly one restart). */
async function expectRestartAt(rt: MemoryRuntime, runner: PipelineRunner, at: number): Promise<void> {
  const runs = rt.runs('a');
  await rt.advanceTo(at - 1);
  expect(rt.runs('a'), `no restart before ${at}`).toBe(runs);
  expect(runner.state).toBe('restarting');
  await rt.advanceTo(at);
  expect(rt.runs('a'), `a restart at ${at}`).toBe(runs + 1);
}

describe('PipelineRunner on the in-memory Kafka', () => {
  it('restarts a crashed chain after 500, 1000, 2000 ms of virtual time, from the offsets committed at the crash', async () => {
    const { rt, runner, script } = await crashingRunner();
    await runner.start();
    await rt.settle();
    const crashedAt = rt.clock.now();
    expect(rt.runs('a')).toBe(1);
    expect(runner.state).toBe('restarting');
    // closing the failed run committed what finished: up to the slow record, which was still in flight
    expect(rt.committed('crashing', 'in', 0)).toBe(3n);
    // and its consumer left the group while it waits
    expect(rt.kafka.group('crashing').members).toHaveLength(0);

    await expectRestartAt(rt, runner, crashedAt + 500); // run 2 fails on the poison again, at once
    await expectRestartAt(rt, runner, crashedAt + 500 + 1000); // run 3 as well
    const lastRestart = crashedAt + 500 + 1000 + 2000;
    await rt.advanceTo(lastRestart - 1);
    expect(rt.runs('a')).toBe(3);
    script.failing = false;
    await rt.advanceTo(lastRestart);
    expect(rt.runs('a')).toBe(4);
    expect(runner.state).toBe('running');

    // every run started from the committed offset 3: offsets 0–2 (finished and committed) were processed once, the
    // slow record (unfinished at each crash) and the poison once per run
    expect(offsetsOf(rt.admitted({ run: 1 }))).toEqual([0, 1, 2, 3, 4]);
    expect(offsetsOf(rt.admitted({ run: 2 }))).toEqual([3, 4]);
    expect(offsetsOf(rt.admitted({ run: 3 }))).toEqual([3, 4]);
    expect(offsetsOf(rt.admitted({ run: 4 }))).toEqual([3, 4, 5, 6]);
    expect(rt.committed('crashing', 'in', 0)).toBe(3n);
    await rt.advance(1000); // the healthy run's commit interval
    expect(rt.committed('crashing', 'in', 0)).toBe(7n);
    expect(rt.kafka.group('crashing').members).toHaveLength(1);
  });

  it('a run that stayed healthy 60 s resets the backoff to 500 ms', async () => {
    const { rt, runner, script } = await crashingRunner();
    await runner.start();
    await rt.settle();
    const crashedAt = rt.clock.now();
    await expectRestartAt(rt, runner, crashedAt + 500);
    await expectRestartAt(rt, runner, crashedAt + 1500);
    script.failing = false;
    await rt.advanceTo(crashedAt + 3500); // run 4: healthy
    const healthySince = rt.clock.now();
    expect(runner.state).toBe('running');

    await rt.advanceTo(healthySince + HEALTHY_AFTER_MS);
    script.failing = true;
    rt.append('in', 0, ['poison']); // offset 7
    await rt.settle();
    expect(runner.state).toBe('restarting');
    const secondCrashAt = rt.clock.now();
    // without the reset this backoff would be 4000 ms
    await expectRestartAt(rt, runner, secondCrashAt + 500);
    // the restarted run fails on the poison at once: the backoff grows again from there
    await expectRestartAt(rt, runner, secondCrashAt + 500 + 1000);
    expect(offsetsOf(rt.admitted({ run: 5 }))).toEqual([7]);
    expect(offsetsOf(rt.admitted({ run: 6 }))).toEqual([7]);
  });

  it('a run that crashes before it was healthy 60 s does not reset the backoff', async () => {
    const { rt, runner, script } = await crashingRunner();
    await runner.start();
    await rt.settle();
    const crashedAt = rt.clock.now();
    script.failing = false;
    await rt.advanceTo(crashedAt + 500); // run 2: healthy for a while
    expect(runner.state).toBe('running');
    await rt.advance(HEALTHY_AFTER_MS - 1);
    script.failing = true;
    rt.append('in', 0, ['poison']);
    await rt.settle();
    const secondCrashAt = rt.clock.now();
    await expectRestartAt(rt, runner, secondCrashAt + 1000); // the second crash in a row: 1000 ms
  });

  it('restarts a restarted run whose chain errors a few microtasks after it started (an async stage that throws)', async () => {
    // the restarted run admits its records while it starts; an async stage fails some microtasks later, whenever the
    // supervisor is between its last look at the run and the end of its restart: the crash must be handled anyway
    for (let microtasks = 0; microtasks <= 12; microtasks++) {
      const rt = await memoryRuntime();
      runtimes.push(rt);
      rt.kafka.createTopic('in', 1);
      rt.append('in', 0, ['poison']);
      const runner = rt.runner('a', { decide: () => ({ failAfterMicrotasks: microtasks }), groupId: 'async-crash' });
      await runner.start();
      await rt.settle();
      const crashedAt = rt.clock.now();
      expect(runner.state, `first crash, failing after ${microtasks} microtasks`).toBe('restarting');
      await rt.advanceTo(crashedAt + 500);
      expect(rt.runs('a')).toBe(2);
      expect(runner.state, `restarted run failing after ${microtasks} microtasks`).toBe('restarting');
      await rt.advanceTo(crashedAt + 1500);
      expect(rt.runs('a'), `second restart, failing after ${microtasks} microtasks`).toBe(3);
      await rt.close();
    }
  });

  it('a stop during the backoff ends at once, without moving the clock, and leaves nothing behind', async () => {
    const { rt, runner } = await crashingRunner();
    await runner.start();
    await rt.settle();
    const crashedAt = rt.clock.now();
    await expectRestartAt(rt, runner, crashedAt + 500);
    await rt.advance(300); // in the middle of the 1000 ms backoff
    const stopAt = rt.clock.now();
    let stopped = false;
    const stopping = runner.stop().then(() => {
      stopped = true;
    });
    await rt.settle();
    expect(stopped).toBe(true);
    await stopping;
    expect(rt.clock.now()).toBe(stopAt);
    expect(runner.state).toBe('stopped');
    expect(rt.clock.nextTimerAt()).toBeUndefined(); // backoff timer cancelled, watchdog stopped
    await rt.advance(60_000);
    expect(rt.runs('a')).toBe(2); // never restarted
    expect(rt.kafka.group('crashing').members).toHaveLength(0);
    expect(rt.committed('crashing', 'in', 0)).toBe(3n);
  });
});
