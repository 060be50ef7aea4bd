/**
 * Holds each ordering lane to one record in flight, end to end: the next record of a lane enters the rest of the
 * chain only once the previous one has finished (published, filtered, sunk or dead-lettered).
 *
 * With `ordering: 'key'` a lane is one key of one partition, so this makes "one event per feed at a time" true for
 * the whole chain, not just for each asynchronous stage. That is what lets `dedupe` catch a duplicate that arrives
 * while the original is still in flight: by the time the duplicate reaches `dedupe`, the original has finished and
 * its id was remembered.
 *
 * ```text
 * lane k:  --a--b-----------|        a finishes at ^
 *   oneRecordPerLane()
 *          --a--------^b----|        b enters once a finished
 * ```
 *
 * Failed elements pass at once (they are on their way to the dead-letter topic). A stage that drops an element
 * without finishing its ticket would block its lane: every stage in this repository finishes what it drops.
 */
import { Observable, type OperatorFunction, of } from 'rxjs';
import { type Element, laneOfElement, mergeMapByLane, observedTicket } from '../../src/index.js';

export function oneRecordPerLane<T>(): OperatorFunction<Element<T>, Element<T>> {
  return mergeMapByLane((element: Element<T>): Observable<Element<T>> => {
    if (!element.ok || element.ticket.finished) return of(element);
    return new Observable<Element<T>>((subscriber) => {
      // after the finishing stage's own bookkeeping (e.g. dedupe remembering the id), let the next one in
      const ticket = observedTicket(element.ticket, () => queueMicrotask(() => subscriber.complete()));
      subscriber.next({ ...element, ticket });
    });
  }, laneOfElement);
}
