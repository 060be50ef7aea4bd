/**
 * Parking on the in-memory Kafka and a virtual clock, nothing faked: a partition parked because it held its share of
 * a full window, then revoked by a rebalance, drops its parked records and is resumed in its client (a pause there
 * would outlive the rebalance), so when it comes back it is fetched again, from the committed offset: nothing lost,
 * and nothing processed twice but what was not committed when it moved (at-least-once).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  committedFor,
  type Decision,
  type MemoryRuntime,
  memoryRuntime,
  offsetsOf,
} from '../../support/memoryRuntime.js';

const runtimes: MemoryRuntime[] = [];
afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
});

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('PartitionParking on the in-memory Kafka', () => {
  it('a parked partition revoked by a rebalance is dropped and resumed; back again, it is consumed from the committed offset', async () => {
    const rt = await memoryRuntime();
    runtimes.push(rt);
    rt.kafka.createTopic('in', 2);
    rt.append(
      'in',
      1,
      range(0, 20).map((i) => `r${i}`),
    );
    // a: holds partition 1's records until the test releases them, lets later ones through once it owns it again
    const script = { aPasses: false, bHoldsFrom: 10 };
    const decideA = ({ run }: { run: number }): Decision => (script.aPasses && run === 1 ? 'pass' : 'hold');
    const a = rt.runner('a', { groupId: 'parking', decide: decideA, config: { maxInFlight: 4 } });
    await a.start();
    await rt.settle();
    const [aConsumer] = rt.consumers.map((c) => c.consumer);
    // the window (4) is full of partition 1's records: it stepped aside, paused, with offsets 4–19 parked
    expect(offsetsOf(rt.admitted({ runner: 'a' }))).toEqual([0, 1, 2, 3]);
    expect(a.pausedPartitions).toBe(1);
    expect(aConsumer?.isPaused('in', 1)).toBe(true);
    expect(a.unfinished().filter((u) => u.state === 'waiting')).toHaveLength(16);
    rt.admitted({ runner: 'a' })[0]?.release();
    rt.admitted({ runner: 'a' })[1]?.release();
    await rt.settle(); // still above its low mark: nothing parked is admitted yet
    expect(offsetsOf(rt.admitted({ runner: 'a' }))).toEqual([0, 1, 2, 3]);

    // b joins: the rebalance gives partition 1 to b (a committed 2 while it rebalanced)
    const b = rt.runner('b', {
      groupId: 'parking',
      decide: ({ offset }) => (offset < BigInt(script.bHoldsFrom) ? 'pass' : 'hold'),
      config: { maxInFlight: 4 },
    });
    await b.start();
    await rt.settle();
    expect(a.assignment).toEqual([{ topic: 'in', partition: 0 }]);
    expect(b.assignment).toEqual([{ topic: 'in', partition: 1 }]);
    expect(rt.committed('parking', 'in', 1)).toBe(2n);
    // a dropped what it parked, and resumed the partition in its client
    expect(a.pausedPartitions).toBe(0);
    expect(a.unfinished()).toEqual([]);
    expect(aConsumer?.isPaused('in', 1)).toBe(false);
    expect(offsetsOf(rt.admitted({ runner: 'a' }))).toEqual([0, 1, 2, 3]); // none of the parked ones
    // b reads from the committed offset, finishes 2–9 and holds 10–13 (its window)
    expect(offsetsOf(rt.admitted({ runner: 'b' }))).toEqual(range(2, 14));
    await rt.advance(1000);
    expect(rt.committed('parking', 'in', 1)).toBe(10n);

    // b stops with 10–13 in flight (no drain): partition 1 comes back to a, which consumes it from offset 10
    script.aPasses = true;
    const stopping = b.stop(0); // its drain timeout is a timer on the virtual clock, due now
    await rt.settle();
    await stopping;
    expect(b.state).toBe('stopped');
    expect(a.assignment).toEqual([
      { topic: 'in', partition: 0 },
      { topic: 'in', partition: 1 },
    ]);
    const back = rt.admitted({ runner: 'a' }).slice(4);
    expect(offsetsOf(back)).toEqual(range(10, 20));
    expect(a.pausedPartitions).toBe(0);
    await rt.advance(1000);
    expect(rt.committed('parking', 'in', 1)).toBe(20n);

    // nothing lost: every offset finished once; processed twice only what was uncommitted when it moved
    const finished = rt.admitted({ partition: 1 }).filter((x) => x.released);
    expect(offsetsOf(finished).sort((x, y) => x - y)).toEqual(range(0, 20));
    // partition 1's commits: a's before it moved, b's, a's once it came back
    expect(rt.commits.map((c) => [c.runner, committedFor([c], 1)])).toEqual([
      ['a', [2]],
      ['b', [10]],
      ['a', [20]],
    ]);
    const processed = offsetsOf(rt.admitted({ partition: 1 }));
    const twice = range(0, 20).filter((o) => processed.filter((p) => p === o).length > 1);
    expect(twice).toEqual([2, 3, 10, 11, 12, 13]);
  });

  it('a parked partition kept through a rebalance stays paused, then is admitted in order once, though its client fetches it again from the start', async () => {
    const rt = await memoryRuntime();
    runtimes.push(rt);
    rt.kafka.createTopic('in', 3);
    rt.append(
      'in',
      0,
      range(0, 20).map((i) => `r${i}`),
    );
    const script = { pass: false };
    const a = rt.runner('a', {
      groupId: 'kept',
      decide: () => (script.pass ? 'pass' : 'hold'),
      config: { maxInFlight: 4 },
    });
    await a.start();
    await rt.settle();
    const [aConsumer] = rt.consumers.map((c) => c.consumer);
    expect(offsetsOf(rt.admitted({ runner: 'a' }))).toEqual([0, 1, 2, 3]);
    expect(a.pausedPartitions).toBe(1);

    const b = rt.runner('b', { groupId: 'kept', decide: () => 'pass' });
    await b.start();
    await rt.settle();
    // a keeps partitions 0 and 2: partition 0 stays paused and parked; its client's next fetch of it starts at the
    // committed offset, 0 (offset 0 was in flight when the group rebalanced)
    expect(a.assignment.map((tp) => tp.partition)).toEqual([0, 2]);
    expect(aConsumer?.isPaused('in', 0)).toBe(true);
    expect(a.pausedPartitions).toBe(1);
    expect(a.unfinished().filter((u) => u.state === 'waiting')).toHaveLength(16);
    expect(rt.committed('kept', 'in', 0)).toBe(0n);
    expect(aConsumer?.position('in', 0)).toBe(0n);

    script.pass = true;
    for (const held of rt.admitted({ runner: 'a' })) held.release();
    await rt.settle();
    expect(offsetsOf(rt.admitted({ runner: 'a' }))).toEqual(range(0, 20)); // each once, in order
    expect(a.pausedPartitions).toBe(0);
    expect(aConsumer?.isPaused('in', 0)).toBe(false);
    expect(aConsumer?.position('in', 0)).toBe(20n); // it fetched 0–19 again once resumed: all skipped
    await rt.advance(1000);
    expect(rt.committed('kept', 'in', 0)).toBe(20n);
    expect(rt.admitted({ runner: 'b' })).toEqual([]);
  });
});
