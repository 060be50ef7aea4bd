/** RxJS marble testing with vitest's deep equality, plus a compact, comparable rendering of pipeline elements. */
import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import type { Element } from '../../src/envelope.js';

export function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

/**
 * `ok <offset> <value as JSON> x<attempts>` or `failed <offset> <stage> <code> x<attempts>`: what marble tests
 * compare (elements themselves hold loggers and tickets).
 */
export function summarize(element: Element<unknown>): string {
  const { offset } = element.origin;
  return element.ok
    ? `ok ${offset} ${JSON.stringify(element.value)} x${element.attempts}`
    : `failed ${offset} ${element.stage} ${element.error.code} x${element.attempts}`;
}
