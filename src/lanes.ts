/**
 * Ordering lanes: the engine's one concurrency rule. An asynchronous stage processes the elements of one lane one
 * at a time, in arrival order, and different lanes concurrently. The source sets each element's lane from the
 * pipeline's ordering mode, so `partition`, `key` and `unordered` all come from this single operator. Concurrency
 * is bounded by the pipeline's admission limit (maxInFlight), not here.
 */
import { from, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';
import type { Element } from './envelope.js';

/**
 * Like `mergeMap`, but inner work for elements of the same lane runs sequentially (like `concatMap` per lane).
 *
 * @param project the asynchronous work for one element
 * @param laneOf the element's lane (`laneOfElement` gives `element.origin.lane`, the pipeline's ordering)
 */
export function mergeMapByLane<T, R>(
  project: (value: T) => ObservableInput<R>,
  laneOf: (value: T) => string,
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const queues = new Map<string, T[]>();
      const inner = new Set<Subscription>();
      let sourceDone = false;

      const maybeComplete = () => {
        if (sourceDone && queues.size === 0) subscriber.complete();
      };

      /** Runs the lane's queue until it is empty or an element's work is still pending (then its completion resumes). */
      const run = (lane: string, first: T) => {
        let value: T | undefined = first;
        while (value !== undefined) {
          let input: ObservableInput<R>;
          try {
            input = project(value);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          let completedSync = false;
          let pending = false;
          const subscription: Subscription = from(input).subscribe({
            next: (result) => subscriber.next(result),
            error: (error: unknown) => subscriber.error(error),
            complete: () => {
              if (!pending) {
                completedSync = true;
                return;
              }
              inner.delete(subscription);
              const next = queues.get(lane)?.shift();
              if (next === undefined) {
                queues.delete(lane);
                maybeComplete();
              } else {
                run(lane, next);
              }
            },
          });
          if (!completedSync) {
            pending = true;
            inner.add(subscription);
            return;
          }
          value = queues.get(lane)?.shift();
        }
        queues.delete(lane);
        maybeComplete();
      };

      const outer = source.subscribe({
        next: (value) => {
          const lane = laneOf(value);
          const queue = queues.get(lane);
          if (queue) {
            queue.push(value);
          } else {
            queues.set(lane, []);
            run(lane, value);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          maybeComplete();
        },
      });

      return () => {
        outer.unsubscribe();
        for (const s of inner) s.unsubscribe();
        inner.clear();
        queues.clear();
      };
    });
}

/** The lane of a pipeline element. */
export function laneOfElement(element: Element<unknown>): string {
  return element.origin.lane;
}
