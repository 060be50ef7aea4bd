import { firstValueFrom, interval, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_START_TIME, TestClock } from '../../../src/testing/index.js';

describe('TestClock', () => {
  it('starts at 2024-01-01T00:00:00Z unless told otherwise, and only moves when told', () => {
    expect(new TestClock().now()).toBe(DEFAULT_START_TIME);
    expect(new Date(DEFAULT_START_TIME).toISOString()).toBe('2024-01-01T00:00:00.000Z');
    const clock = new TestClock(1000);
    expect(clock.now()).toBe(1000);
    clock.moveTo(1500);
    expect(clock.now()).toBe(1500);
    clock.moveTo(1200); // never backwards
    expect(clock.now()).toBe(1500);
    expect(() => new TestClock(Number.NaN)).toThrow(/finite/);
  });

  it('runs a timer only once the clock reached it, in due order', () => {
    const clock = new TestClock(0);
    const fired: string[] = [];
    timer(20, clock).subscribe(() => fired.push('b@20'));
    timer(10, clock).subscribe(() => fired.push('a@10'));
    expect(clock.pendingTimers).toBe(2);
    expect(clock.nextTimerAt()).toBe(10);
    expect(clock.runDue()).toBe(0);
    clock.moveTo(15);
    expect(clock.runDue()).toBe(1);
    expect(fired).toEqual(['a@10']);
    expect(clock.now()).toBe(15);
    clock.moveTo(20);
    clock.runDue();
    expect(fired).toEqual(['a@10', 'b@20']);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.nextTimerAt()).toBeUndefined();
  });

  it('runs zero-delay timers scheduled while running due ones, and forgets cancelled timers', async () => {
    const clock = new TestClock(0);
    const fired: number[] = [];
    clock.schedule(() => {
      fired.push(clock.now());
      clock.schedule(() => fired.push(clock.now()), 0);
    }, 5);
    const cancelled = timer(7, clock).subscribe(() => fired.push(-1));
    cancelled.unsubscribe();
    expect(clock.pendingTimers).toBe(1);
    clock.moveTo(10);
    clock.runDue();
    expect(fired).toEqual([5, 5]); // the zero-delay timer is due at the time it was scheduled: 5
    const value = firstValueFrom(timer(3, clock));
    clock.moveTo(13);
    clock.runDue();
    await expect(value).resolves.toBe(0);
  });

  it('refuses to spin forever on a timer that reschedules itself at the same time', () => {
    const clock = new TestClock(0);
    interval(0, clock).subscribe();
    expect(() => clock.runDue()).toThrow(/keep rescheduling themselves/);
    expect(clock.now()).toBe(0);
    for (const action of clock.actions.splice(0)) action.unsubscribe(); // the leaf of RxJS's chain of actions
  });
});
