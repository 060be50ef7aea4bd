/**
 * One member joining a busy group makes it rebalance once. A commit the broker refuses because the group is
 * rebalancing (or has moved to a new generation) fails and is sent again next round; it must not make the member join
 * again: a leader that rejoins a stable group starts another rebalance, whose commits fail the same way — a storm that
 * went on for seconds (8 generations in 7 s with 2 workers on the workload benchmark), each rebalance stopping both
 * members and processing records again.
 */
import { describe, expect, it } from 'vitest';
import { definePipeline, type EngineObserver, publish } from '../../../src/index.js';
import { noopObserver } from '../../../src/instrumentation.js';
import { eventually, testEngine } from '../../support/engine.js';
import { collect, createTopic, produce, uniqueName } from '../../support/kafka.js';
import { work } from '../../support/operators.js';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Counts the joins (assignments) an engine's consumer went through. */
function joinCounter(): { observer: EngineObserver; joins: () => number } {
  let joins = 0;
  return {
    observer: {
      ...noopObserver,
      assigned: () => {
        joins++;
      },
    },
    joins: () => joins,
  };
}

describe('rebalance storm', () => {
  it('a second member joining a busy group with frequent commits: one rebalance, then the group stays settled', async () => {
    const n = 100_000;
    const input = await createTopic('storm-in', 6);
    const output = await createTopic('storm-out', 6);
    const dlq = await createTopic('storm-dlq', 1);
    const groupId = uniqueName('storm-group');
    await produce(
      input,
      Array.from({ length: n }, (_, i) => ({ key: `k${i % 600}`, value: String(i) })),
    );
    const out = await collect(output);
    const pipeline = definePipeline({
      name: 'storm',
      source: { topics: [input], groupId },
      deadLetter: { topic: dlq },
      ordering: 'key',
      maxInFlight: 200,
      // a commit every 20 ms: some are on their way whenever the group rebalances
      commitIntervalMs: 20,
      consumer: { heartbeatIntervalMs: 500 },
      build: (records) =>
        records.pipe(
          work(() => 50),
          publish(output),
        ),
    });

    const a = joinCounter();
    const first = testEngine({ pipelines: [pipeline], observer: a.observer });
    await first.start();
    await out.waitFor(2000);
    /** Starts one more member; once the first holds `share` partitions and the new one is ready, waits ten heartbeats. */
    const join = async (share: number) => {
      const counter = joinCounter();
      const engine = testEngine({ pipelines: [pipeline], observer: counter.observer });
      await engine.start();
      await eventually(
        () => (first.status().pipelines[0]?.assignment.length ?? 0) === share && engine.status().ready,
        `the first member to hold ${share} partitions`,
      );
      // a rebalance started by a refused commit would be noticed by now
      await sleep(5_000);
      return { engine, joins: counter.joins };
    };
    // two joins, one after the other: each is one rebalance, and a refused commit gets two chances to start a storm
    const second = await join(3);
    const afterSecond = { first: a.joins(), second: second.joins(), output: out.records.length };
    const third = await join(2);
    const afterThird = {
      first: a.joins(),
      second: second.joins(),
      third: third.joins(),
      output: out.records.length,
    };
    console.info(`[rebalance storm] ${JSON.stringify({ afterSecond, afterThird })}`);
    await Promise.all([first.stop(), second.engine.stop(), third.engine.stop()]);
    expect(afterThird.output, 'records still flowing when the joins were counted').toBeLessThan(n);
    expect(afterSecond, 'joins after the second member: the first 2 (start, split), the second 1').toMatchObject({
      first: 2,
      second: 1,
    });
    expect(afterThird, 'joins after the third member: one more each, the third 1').toMatchObject({
      first: 3,
      second: 2,
      third: 1,
    });
  });
});
