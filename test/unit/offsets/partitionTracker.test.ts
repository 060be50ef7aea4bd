import { describe, expect, it } from 'vitest';
import { PartitionTracker } from '../../../src/offsets/partitionTracker.js';

const noop = () => {};

describe('PartitionTracker', () => {
  it('commits the lowest unfinished offset while later records finish first', () => {
    const t = new PartitionTracker('t', 0);
    const [a, b, c] = [10n, 11n, 12n].map((o) => t.admit(o, 0, noop));
    expect(t.committable()).toBe(10n);
    c?.finish('published');
    b?.finish('published');
    expect(t.committable()).toBe(10n); // 10 is still running: nothing past it
    a?.finish('sunk');
    expect(t.committable()).toBe(13n);
    t.markCommitted(13n);
    expect(t.committable()).toBeUndefined();
  });

  it('uses the batch end when everything is finished (control records, compaction gaps)', () => {
    const t = new PartitionTracker('t', 1);
    t.admit(5n, 0, noop).finish('published');
    t.fetchedUpTo(8n);
    expect(t.committable()).toBe(8n);
  });

  it('does not use the batch end while a record is unfinished', () => {
    const t = new PartitionTracker('t', 1);
    const a = t.admit(5n, 0, noop);
    t.admit(6n, 0, noop).finish('published');
    t.fetchedUpTo(9n);
    expect(t.committable()).toBe(5n);
    a.finish('filtered');
    expect(t.committable()).toBe(9n);
  });

  it('skips offsets it already admitted (re-delivery after a rejoin)', () => {
    const t = new PartitionTracker('t', 2);
    t.admit(1n, 0, noop);
    t.admit(2n, 0, noop);
    expect(t.accepts(2n)).toBe(false);
    expect(t.accepts(3n)).toBe(true);
    expect(() => t.admit(2n, 0, noop)).toThrow(/admitted twice/);
  });

  it('is fenced once revoked: late completions never make anything committable', () => {
    const t = new PartitionTracker('t', 3);
    const a = t.admit(1n, 0, noop);
    t.revoke();
    a.finish('published');
    expect(t.committable()).toBeUndefined();
    expect(t.accepts(2n)).toBe(false);
  });

  it('finishes a ticket once; the first outcome wins and the listener hears it once', () => {
    const heard: string[] = [];
    const t = new PartitionTracker('t', 4);
    const a = t.admit(0n, 0, (_ticket, outcome) => heard.push(outcome));
    a.finish('published');
    a.finish('dead_lettered');
    expect(heard).toEqual(['published']);
    expect(t.unfinished).toBe(0);
  });

  it('keeps memory bounded over a long run (finished head entries are dropped)', () => {
    const t = new PartitionTracker('t', 5);
    let mostRetained = 0;
    for (let o = 0n; o < 100_000n; o++) {
      t.admit(o, 0, noop).finish('sunk');
      mostRetained = Math.max(mostRetained, t.retained);
      if (o % 1000n === 0n) t.committable();
    }
    expect(mostRetained).toBe(0); // each entry is dropped as soon as it finishes at the head
    expect(t.committable()).toBe(100_000n);
    expect(t.unfinished).toBe(0);
  });

  it('retains everything behind a stuck head, and drops it all once the head finishes', () => {
    const t = new PartitionTracker('t', 6);
    const head = t.admit(0n, 0, noop);
    for (let o = 1n; o <= 5000n; o++) t.admit(o, 0, noop).finish('sunk');
    expect(t.retained).toBe(5001); // what admission bounds by pausing the partition
    expect(t.oldestUnfinished()?.offset).toBe(0n);
    head.finish('sunk');
    expect(t.retained).toBe(0);
    expect(t.committable()).toBe(5001n);
  });
});
