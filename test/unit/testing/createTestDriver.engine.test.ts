/**
 * What the driver gains by running the engine's own runtime: several instances of a pipeline in one group (a
 * rebalance), broker refusals on demand, the engine's producer retries and its second line of backpressure (parking).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { definePipeline, parseJson, publish, retryWithBackoff } from '../../../src/index.js';
import type { PipelineConfig } from '../../../src/runtime/definePipeline.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

function relay(extra: Partial<PipelineConfig<unknown>> = {}) {
  return definePipeline({
    name: 'relay',
    source: { topics: ['in'], groupId: 'relay-group' },
    deadLetter: { topic: 'in.dlq' },
    build: (r) => r.pipe(parseJson<number>(), publish('out')),
    ...extra,
  });
}

function driverOf(...args: Parameters<typeof createTestDriver>): TestDriver {
  const driver = createTestDriver(...args);
  drivers.push(driver);
  return driver;
}

describe('createTestDriver on the engine runtime', () => {
  it('runs several instances in one group: partitions split, and move back when an instance leaves', async () => {
    const driver = driverOf(relay(), { partitions: { in: 4 } });
    await driver.settle();
    expect(driver.instances().map((i) => i.assignment.length)).toEqual([4]);
    const second = await driver.addInstance();
    await driver.settle();
    expect(driver.instances().map((i) => i.assignment.map((tp) => tp.partition))).toEqual([
      [0, 2],
      [1, 3],
    ]);
    driver.inputTopic('in').pipeValues([1, 2, 3, 4, 5, 6, 7, 8]);
    await driver.settle();
    expect(driver.outputTopic<number>('out').readValues().sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await driver.removeInstance(second);
    await driver.settle();
    expect(driver.instances().map((i) => [i.instance, i.assignment.length])).toEqual([[1, 4]]);
    driver.inputTopic('in').pipeValues([9, 10, 11, 12]);
    await driver.settle();
    // the graceful leave committed what the second instance finished: nothing comes twice
    expect(
      driver
        .outputTopic<number>('out')
        .readValues()
        .sort((a, b) => a - b),
    ).toEqual([9, 10, 11, 12]);
    expect([...driver.committable('in').values()]).toEqual([3n, 3n, 3n, 3n]);
  });

  it('an instance killed without its final commit: the next owner processes its uncommitted records again', async () => {
    const driver = driverOf(relay(), { partitions: { in: 2 } });
    const second = await driver.addInstance();
    await driver.settle();
    driver.inputTopic('in').pipeValues([1, 2, 3, 4]); // 1, 3 in partition 0; 2, 4 in partition 1
    await driver.settle();
    const killedOwns = second.assignment.map((tp) => tp.partition);
    await driver.removeInstance(second, { graceful: false });
    await driver.settle();
    const values = driver.outputTopic<number>('out').readValues();
    // nothing was committed yet (the commit interval did not pass): the killed instance's records come again
    const again = killedOwns.flatMap((p) => (p === 0 ? [1, 3] : [2, 4]));
    expect(values.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, ...again].sort((a, b) => a - b));
    expect([...driver.committable('in').values()]).toEqual([2n, 2n]);
  });

  it('addInstance while a full window holds a batch: the join completes at the next heartbeat, a second later', async () => {
    const release: (() => void)[] = [];
    const driver = driverOf(
      relay({
        maxInFlight: 2,
        ordering: 'unordered',
        build: (r) =>
          r.pipe(
            parseJson<number>(),
            retryWithBackoff((n) => new Promise<number>((done) => release.push(() => done(n)))),
            publish('out'),
          ),
      }),
      { partitions: { in: 1 } }, // one partition: it never steps aside, its batch waits for credits
    );
    driver.inputTopic('in').pipeRecords([0, 1, 2, 3, 4].map((value) => ({ value, partition: 0 })));
    await driver.settle();
    const second = await driver.addInstance();
    expect(second.state).toBe('starting'); // the group waits for the first instance's batch in hand
    await driver.advanceTime(1000);
    expect(second.state).toBe('running');
    expect(driver.instances().map((i) => i.assignment.length)).toEqual([1, 0]);
    for (let round = 0; round < 10 && release.length > 0; round++) {
      for (const done of release.splice(0)) done();
      await driver.settle();
    }
    // at-least-once across the move: every record out, maybe some twice (they were uncommitted when it moved)
    expect(new Set(driver.outputTopic<number>('out').readValues())).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it('failSends: transient refusals are retried by the engine producer in virtual time; a permanent one dead-letters', async () => {
    const driver = driverOf(relay());
    const refusals = driver.failSends({ topic: 'out', times: 3 });
    driver.inputTopic('in').pipeValues([1]);
    await driver.settle();
    expect(driver.outputTopic('out').isEmpty()).toBe(true);
    expect(driver.committable('in')).toEqual(new Map([[0, 0n]]));
    await driver.flush();
    expect(refusals.remaining).toBe(0);
    expect(driver.outputTopic('out').readValues()).toEqual([1]);
    expect(driver.logs.filter((l) => /produce failed, re-sending/.test(String(l.msg)))).toHaveLength(3);

    driver.failSends({ topic: 'out', error: 'permanent' });
    driver.inputTopic('in').pipeValues([2]);
    await driver.flush();
    const [dead] = driver.deadLetterTopic().readDeadLetters();
    expect(dead).toMatchObject({ value: '2', originalOffset: 1n, errorCode: 'TRIBUTARY_ERR_PUBLISH' });
    expect(driver.committable('in')).toEqual(new Map([[0, 2n]]));
  });

  it('parks a partition that holds its share of a full window, so the other partitions go on (the second line of backpressure)', async () => {
    const release: (() => void)[] = [];
    const driver = driverOf(
      relay({
        maxInFlight: 4,
        ordering: 'unordered',
        build: (r) =>
          r.pipe(
            parseJson<number>(),
            retryWithBackoff((n) =>
              n < 100 ? new Promise<number>((done) => release.push(() => done(n))) : Promise.resolve(n),
            ),
            publish('out'),
          ),
      }),
      { partitions: { in: 2 } },
    );
    const input = driver.inputTopic('in');
    // partition 0: slow records that hold the window; partition 1: fast ones
    input.pipeRecords(Array.from({ length: 20 }, (_, i) => ({ value: i, partition: 0 })));
    input.pipeRecords(Array.from({ length: 20 }, (_, i) => ({ value: 100 + i, partition: 1 })));
    await driver.settle();
    // partition 0 filled the window (4 slow records) and was paused with the rest of its batch parked
    expect(driver.instances()[0]?.pausedPartitions).toBe(1);
    expect(driver.unfinished().filter((u) => u.partition === 0 && u.state === 'in-flight')).toHaveLength(4);
    for (const done of release.splice(0)) done();
    await driver.settle();
    // as credits came free, partition 1 (fetched meanwhile) got its share while partition 0 still waits
    const first = driver.outputTopic<number>('out').readValues();
    expect(first.filter((n) => n >= 100).length).toBeGreaterThan(0);
    expect(driver.unfinished().filter((u) => u.partition === 0 && u.state === 'waiting').length).toBeGreaterThan(0);
    for (let round = 0; round < 40 && release.length > 0; round++) {
      for (const done of release.splice(0)) done();
      await driver.settle();
    }
    expect([...first, ...driver.outputTopic<number>('out').readValues()].sort((x, y) => x - y)).toEqual([
      ...Array.from({ length: 20 }, (_, i) => i),
      ...Array.from({ length: 20 }, (_, i) => 100 + i),
    ]);
    expect(driver.committable('in')).toEqual(
      new Map([
        [0, 20n],
        [1, 20n],
      ]),
    );
    expect(driver.instances()[0]?.pausedPartitions).toBe(0);
  });
});
