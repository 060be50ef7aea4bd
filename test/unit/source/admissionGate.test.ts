/** AdmissionGate's waits time out on its clock, never on real time. */
import { describe, expect, it } from 'vitest';
import { AdmissionGate } from '../../../src/source/admissionGate.js';
import { ManualClock, settle } from '../../support/manualClock.js';

/** Tracks whether a promise settled, and with what. */
function watch<T>(promise: Promise<T>): { settled: boolean; value: T | undefined } {
  const state: { settled: boolean; value: T | undefined } = { settled: false, value: undefined };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    () => {}, // the gate's waits never reject; a rejection would leave `settled` false and fail the test
  );
  return state;
}

describe('AdmissionGate', () => {
  it('waitForCapacity times out on the clock', async () => {
    const clock = new ManualClock();
    const gate = new AdmissionGate(1, clock);
    expect(gate.tryAcquire()).toBe(true);
    const wait = watch(gate.waitForCapacity(1000));
    await new Promise((done) => setTimeout(done, 20)); // real time does not end the wait
    await clock.advance(999);
    expect(wait.settled).toBe(false);
    await clock.advance(1);
    expect(wait.settled).toBe(true);
    expect(gate.tryAcquire()).toBe(false); // a timeout frees nothing
  });

  it('a release ends the wait and cancels its timer', async () => {
    const clock = new ManualClock();
    const gate = new AdmissionGate(1, clock);
    gate.tryAcquire();
    const wait = watch(gate.waitForCapacity(1000));
    expect(clock.pending).toBe(1);
    gate.release();
    await settle();
    expect(wait.settled).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('idle resolves false after its timeout on the clock, true once nothing is in flight', async () => {
    const clock = new ManualClock();
    const gate = new AdmissionGate(2, clock);
    gate.tryAcquire();
    const timedOut = watch(gate.idle(5000));
    await clock.advance(4999);
    expect(timedOut.settled).toBe(false);
    await clock.advance(1);
    expect(timedOut).toEqual({ settled: true, value: false });
    const drained = watch(gate.idle(5000));
    gate.release();
    await settle();
    expect(drained).toEqual({ settled: true, value: true });
    expect(clock.pending).toBe(0);
  });
});
