/**
 * CommitLoop on a manual clock: it commits on its interval only when the clock moves, times its rounds on the clock,
 * and calls the client's commit synchronously from commitNow() (the test driver's in-memory commit relies on it).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ConsumerPort, TopicPartitionOffset } from '../../../src/kafka/ports.js';
import { CommitLoop } from '../../../src/offsets/commitLoop.js';
import { PartitionTracker } from '../../../src/offsets/partitionTracker.js';
import { ManualClock, settle } from '../../support/manualClock.js';

/** A consumer whose commit records the offsets synchronously, then resolves when `release` is called (or at once). */
function recordingConsumer(hold = false) {
  const commits: TopicPartitionOffset[][] = [];
  const pending: (() => void)[] = [];
  const consumer = {
    commit: (offsets: readonly TopicPartitionOffset[]) => {
      commits.push([...offsets]);
      return hold ? new Promise<void>((done) => pending.push(done)) : Promise.resolve();
    },
  } as unknown as ConsumerPort;
  return { consumer, commits, release: () => pending.shift()?.() };
}

/** A tracker of in/0 with offsets 0..count-1 admitted and finished. */
function finishedTracker(count: number): PartitionTracker {
  const tracker = new PartitionTracker('in', 0);
  for (let i = 0; i < count; i++) tracker.admit(BigInt(i), 0, () => {}).finish('published');
  return tracker;
}

function loop(consumer: ConsumerPort, clock: ManualClock, tracker: PartitionTracker) {
  const rounds: { seconds: number; ok: boolean }[] = [];
  const commitLoop = new CommitLoop({
    consumer,
    intervalMs: 1000,
    log: pino({ level: 'silent' }),
    clock,
    trackers: () => [tracker],
    beforeRound: () => {},
    committed: () => {},
    done: (seconds, ok) => rounds.push({ seconds, ok }),
  });
  return { commitLoop, rounds };
}

describe('CommitLoop', () => {
  it('commits on its interval only when the clock is advanced', async () => {
    const clock = new ManualClock();
    const { consumer, commits } = recordingConsumer();
    const tracker = finishedTracker(3);
    const { commitLoop } = loop(consumer, clock, tracker);
    commitLoop.start();
    await settle();
    expect(commits).toEqual([]);
    await clock.advance(999);
    expect(commits).toEqual([]);
    await clock.advance(1);
    expect(commits).toEqual([[{ topic: 'in', partition: 0, offset: 3n }]]);
    tracker.admit(3n, 0, () => {}).finish('published');
    await clock.advance(1000);
    expect(commits.length).toBe(2);
    expect(commits[1]).toEqual([{ topic: 'in', partition: 0, offset: 4n }]);
    commitLoop.stop();
    expect(clock.pending).toBe(0); // the interval is cancelled
  });

  it("commitNow calls the client's commit synchronously, before its first await", () => {
    const clock = new ManualClock();
    const { consumer, commits } = recordingConsumer();
    const { commitLoop } = loop(consumer, clock, finishedTracker(5));
    const done = commitLoop.commitNow();
    expect(commits).toEqual([[{ topic: 'in', partition: 0, offset: 5n }]]); // not awaited yet
    return done;
  });

  it('times a round on the clock', async () => {
    const clock = new ManualClock();
    const { consumer, release } = recordingConsumer(true);
    const { commitLoop, rounds } = loop(consumer, clock, finishedTracker(2));
    const done = commitLoop.commitNow();
    await clock.advance(250);
    expect(rounds).toEqual([]);
    release();
    await done;
    expect(rounds).toEqual([{ seconds: 0.25, ok: true }]);
  });
});
