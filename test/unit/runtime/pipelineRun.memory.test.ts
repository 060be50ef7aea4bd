/**
 * A run's offsets on the in-memory Kafka and a virtual clock, nothing faked: after a rebalance moves a partition to
 * another member, the old owner's late finishes are fenced (never committed by it; its tracker revoked); many
 * finishes within a commit interval make one commit, and commit requests during a round make one more; a stop
 * commits what finished, including during its drain, once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PipelineRunner } from '../../../src/runtime/pipelineRunner.js';
import { committedFor, type MemoryRuntime, memoryRuntime, offsetsOf } from '../../support/memoryRuntime.js';

const runtimes: MemoryRuntime[] = [];
afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
});

async function runtime(partitions: number): Promise<MemoryRuntime> {
  const rt = await memoryRuntime();
  runtimes.push(rt);
  rt.kafka.createTopic('in', partitions);
  return rt;
}

const values = (count: number) => Array.from({ length: count }, (_, i) => `v${i}`);

async function started(rt: MemoryRuntime, runner: PipelineRunner): Promise<void> {
  await runner.start();
  await rt.settle();
}

describe('PipelineRun on the in-memory Kafka', () => {
  it("fences a partition that moved to another member: the old owner's late finishes are never committed by it", async () => {
    const rt = await runtime(2);
    rt.append('in', 0, values(5));
    rt.append('in', 1, values(5));
    const a = rt.runner('a', { groupId: 'fenced' }); // holds every record
    await started(rt, a);
    expect(offsetsOf(rt.admitted({ runner: 'a', partition: 1 }))).toEqual([0, 1, 2, 3, 4]);
    rt.admitted({ runner: 'a', partition: 1 })[0]?.release();
    await rt.advance(1000); // a's commit interval
    expect(rt.committed('fenced', 'in', 1)).toBe(1n);

    const b = rt.runner('b', { groupId: 'fenced' }); // holds every record too
    await started(rt, b);
    expect(a.assignment).toEqual([{ topic: 'in', partition: 0 }]);
    expect(b.assignment).toEqual([{ topic: 'in', partition: 1 }]);
    const handover = rt.commits.length;
    // the new owner starts from the committed offset
    expect(offsetsOf(rt.admitted({ runner: 'b', partition: 1 }))).toEqual([1, 2, 3, 4]);
    // the old owner's records of partition 1 are abandoned (its tracker revoked); those of partition 0 are not
    const aHeld = rt.admitted({ runner: 'a', partition: 1 }).slice(1);
    expect(aHeld.map((h) => h.ticket.abandoned)).toEqual([true, true, true, true]);
    expect(rt.admitted({ runner: 'a', partition: 0 }).map((h) => h.ticket.abandoned)).toEqual(Array(5).fill(false));
    expect(a.unfinished().filter((u) => u.partition === 1)).toEqual([]);

    // late finishes at the old owner, then commit intervals and a rebalance-time commit request
    for (const held of aHeld) held.release();
    rt.admitted({ runner: 'a', partition: 0 })[0]?.release();
    await rt.advance(3000);
    await a.commitNow();
    expect(a.inFlight).toBe(4); // the late finishes gave their credits back
    expect(a.committable()).toEqual([{ topic: 'in', partition: 0, offset: 1n }]);
    const afterHandover = rt.commits.slice(handover);
    expect(
      committedFor(
        afterHandover.filter((c) => c.runner === 'a'),
        0,
      ),
    ).toEqual([1]); // it still commits its own
    expect(
      committedFor(
        afterHandover.filter((c) => c.runner === 'a'),
        1,
      ),
    ).toEqual([]);
    expect(rt.committed('fenced', 'in', 1)).toBe(1n);

    // the new owner's finishes move partition 1 on
    for (const held of rt.admitted({ runner: 'b', partition: 1 }).slice(0, 2)) held.release();
    await rt.advance(1000);
    expect(rt.committed('fenced', 'in', 1)).toBe(3n);
    const partition1 = rt.commits.slice(handover).filter((c) => c.offsets.some((o) => o.partition === 1));
    expect(partition1.length).toBeGreaterThan(0);
    expect([...new Set(partition1.map((c) => c.runner))]).toEqual(['b']);
    expect(committedFor(partition1, 1)).toEqual([1, 3]); // where it found the group, then its own progress
  });

  it('many finishes within one commit interval make one commit round', async () => {
    const rt = await runtime(1);
    rt.append('in', 0, values(100));
    const a = rt.runner('a', { groupId: 'coalesced', config: { commitIntervalMs: 1000 } });
    await started(rt, a);
    const startedAt = rt.clock.now();
    const held = rt.admitted({ runner: 'a' });
    expect(held).toHaveLength(100);
    // ten finishes every 90 ms, all before the first tick of the commit interval
    for (let step = 0; step < 10; step++) {
      for (const h of held.slice(step * 10, step * 10 + 10)) h.release();
      await rt.advance(90);
    }
    expect(rt.clock.now()).toBe(startedAt + 900);
    expect(rt.commits).toEqual([]);
    await rt.advanceTo(startedAt + 1000);
    expect(rt.commits.map((c) => c.offsets)).toEqual([[{ topic: 'in', partition: 0, offset: 100n }]]);
    expect(rt.events.filter((e) => e.startsWith('commitDone'))).toEqual(['commitDone:ok']);
    // intervals with nothing new to commit send nothing
    await rt.advance(5000);
    expect(rt.commits).toHaveLength(1);
  });

  it('commit requests made while a round is in flight coalesce into one more round', async () => {
    const rt = await runtime(1);
    rt.append('in', 0, values(10));
    const a = rt.runner('a', { groupId: 'coalesced', config: { commitIntervalMs: 60_000 } });
    await started(rt, a);
    const held = rt.admitted({ runner: 'a' });
    for (const h of held.slice(0, 5)) h.release();
    const first = a.commitNow(); // the client's commit is called now; its answer comes on a later microtask
    for (const h of held.slice(5)) h.release();
    const more = [a.commitNow(), a.commitNow(), a.commitNow(), a.commitNow()];
    await Promise.all([first, ...more]);
    expect(rt.commits.map((c) => c.offsets.map((o) => Number(o.offset)))).toEqual([[5], [10]]);
    expect(rt.committed('coalesced', 'in', 0)).toBe(10n);
  });

  it('a stop commits once, at its end: what finished before it and while it drained, not past what never did', async () => {
    const rt = await runtime(1);
    rt.append('in', 0, values(6));
    const a = rt.runner('a', { groupId: 'stopping', config: { commitIntervalMs: 60_000, drainTimeoutMs: 5000 } });
    await started(rt, a);
    const held = rt.admitted({ runner: 'a' });
    for (const h of held.slice(0, 3)) h.release();
    await rt.settle();
    expect(rt.commits).toEqual([]);
    const stopAt = rt.clock.now();
    let stopped = false;
    const stopping = a.stop().then(() => {
      stopped = true;
    });
    await rt.settle();
    expect(a.state).toBe('stopping');
    held[3]?.release(); // finish while draining
    held[4]?.release();
    await rt.advanceTo(stopAt + 4999);
    expect(stopped).toBe(false);
    expect(rt.commits).toEqual([]);
    await rt.advanceTo(stopAt + 5000); // offset 5 never finishes: the drain times out
    await stopping;
    expect(a.state).toBe('stopped');
    expect(rt.commits.map((c) => c.offsets)).toEqual([[{ topic: 'in', partition: 0, offset: 5n }]]);
    expect(rt.committed('stopping', 'in', 0)).toBe(5n);
    expect(rt.kafka.group('stopping').members).toHaveLength(0);
  });

  it('a stop with everything finished commits the end of what was fetched, without waiting', async () => {
    const rt = await runtime(1);
    rt.append('in', 0, values(4));
    const a = rt.runner('a', { groupId: 'stopping', config: { commitIntervalMs: 60_000 }, decide: () => 'pass' });
    await started(rt, a);
    const stopAt = rt.clock.now();
    await a.stop();
    expect(rt.clock.now()).toBe(stopAt);
    expect(rt.commits.map((c) => c.offsets)).toEqual([[{ topic: 'in', partition: 0, offset: 4n }]]);
  });
});
