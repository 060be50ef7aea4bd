/** Test-only stages: simulated asynchronous work and a switch that holds every record where it is. */
import { from, map, type OperatorFunction, timer } from 'rxjs';
import { type Element, laneOfElement, mergeMapByLane } from '../../src/index.js';

/** Simulated work: each ok element waits `ms(element)` milliseconds, lane by lane like any async stage. */
export function work<T>(ms: (element: Element<T>) => number): OperatorFunction<Element<T>, Element<T>> {
  return mergeMapByLane(
    (element: Element<T>) => timer(Math.max(0, ms(element))).pipe(map(() => element)),
    laneOfElement,
  );
}

/** A valve: while closed, elements wait at this stage (nothing downstream finishes). */
export class Valve {
  #open = true;
  #waiters: (() => void)[] = [];
  close(): void {
    this.#open = false;
  }
  open(): void {
    this.#open = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
  stage<T>(): OperatorFunction<Element<T>, Element<T>> {
    return mergeMapByLane(
      (element: Element<T>) =>
        from(this.#open ? Promise.resolve() : new Promise<void>((done) => this.#waiters.push(done))).pipe(
          map(() => element),
        ),
      laneOfElement,
    );
  }
}

/**
 * A synchronous function that throws `error()` for the first `failures[value]` calls of each value, then returns
 * `result(value)`; `calls` records every call's argument.
 */
export function flakyFunction(
  failures: Record<number, number>,
  error: () => unknown,
  result: (value: number) => number,
): { fn: (value: number) => number; calls: number[] } {
  const calls: number[] = [];
  const fn = (value: number) => {
    calls.push(value);
    const left = failures[value] ?? 0;
    if (left > 0) {
      failures[value] = left - 1;
      throw error();
    }
    return result(value);
  };
  return { fn, calls };
}
