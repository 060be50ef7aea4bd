import {
  map,
  type Observable,
  type SchedulerAction,
  type SchedulerLike,
  Subject,
  type Subscription,
  VirtualTimeScheduler,
} from 'rxjs';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import { publish } from '../../../operators/publish.js';
import { type SinkBatchOptions, sinkBatch, sinkBatchOptionsSchema } from '../../../operators/sinkBatch.js';
import { TributaryError } from '../../../src/errors.js';
import { definePipeline, type Element, type Envelope, failed, type RawValue } from '../../../src/index.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';
import { expectFailed, expectOk, type TestEnvelope, testEnvelope } from '../../support/envelopes.js';
import { summarize, testScheduler } from '../../support/marbles.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

/** A promise the test resolves or rejects by hand. */
function deferred() {
  let resolve: () => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** One envelope per value, at the value's offset. */
function elements<const N extends readonly number[]>(values: N): { [K in keyof N]: TestEnvelope<number> } {
  return values.map((value) => testEnvelope(value, { offset: value })) as { [K in keyof N]: TestEnvelope<number> };
}

/** A scheduler that keeps every timer it hands out, to see which are still pending. */
class RecordingScheduler implements SchedulerLike {
  readonly timers: Subscription[] = [];
  constructor(private readonly inner: VirtualTimeScheduler) {}
  now(): number {
    return this.inner.now();
  }
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    const timer = this.inner.schedule(work, delay, state);
    this.timers.push(timer);
    return timer;
  }
}

describe('sinkBatch (marbles)', () => {
  it('writes a batch when it is full, and the rest when the source completes', () => {
    const [a, b, c, d] = elements([1, 2, 3, 4]);
    const written: number[][] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const operator = sinkBatch(
        (values: readonly number[]) => {
          written.push([...values]);
        },
        { maxRecords: 3, maxWaitMs: 5 },
      );
      expectObservable(cold<Element<number>>('-a-b-c-d--|', { a, b, c, d }).pipe(operator, map(summarize))).toBe(
        '-----(ABC)(D|)',
        { A: 'ok 1 1 x1', B: 'ok 2 2 x1', C: 'ok 3 3 x1', D: 'ok 4 4 x1' },
      );
    });
    expect(written).toEqual([[1, 2, 3], [4]]);
    expect([a, b, c, d].map((el) => el.ticket.settled)).toEqual(['sunk', 'sunk', 'sunk', 'sunk']);
    expect([a, b, c, d].map((el) => el.ticket.finished)).toEqual([false, false, false, false]);
  });

  it('writes a batch maxWaitMs after its first record arrived', () => {
    const [a, b, c] = elements([1, 2, 3]);
    const written: number[][] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const operator = sinkBatch(
        (values: readonly number[]) => {
          written.push([...values]);
        },
        { maxRecords: 10, maxWaitMs: 5 },
      );
      expectObservable(cold<Element<number>>('-a-b-----c', { a, b, c }).pipe(operator, map(summarize))).toBe(
        '------(AB)----C',
        { A: 'ok 1 1 x1', B: 'ok 2 2 x1', C: 'ok 3 3 x1' },
      );
    });
    expect(written).toEqual([[1, 2], [3]]);
  });

  it('passes failed elements through at once, without writing them', () => {
    const [a, b] = elements([1, 2]);
    const x = failed(testEnvelope(9, { offset: 9 }), 'validate', new TributaryError('TRIBUTARY_ERR_VALIDATION', 'bad'));
    const written: number[][] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const operator = sinkBatch(
        (values: readonly number[]) => {
          written.push([...values]);
        },
        { maxRecords: 2 },
      );
      expectObservable(cold<Element<number>>('-a-x-b------|', { a, b, x }).pipe(operator, map(summarize))).toBe(
        '---X-(AB)---|',
        { A: 'ok 1 1 x1', B: 'ok 2 2 x1', X: 'failed 9 validate TRIBUTARY_ERR_VALIDATION x0' },
      );
    });
    expect(written).toEqual([[1, 2]]);
  });

  it("retries the batch's write like retryWithBackoff, and completes only after the batch is out", () => {
    const [a, b] = elements([1, 2]);
    let calls = 0;
    const retried: [number, number, number][] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const operator = sinkBatch(
        () => {
          calls += 1;
          if (calls === 1) throw new Error('deadlock detected');
        },
        {
          maxRecords: 2,
          jitter: 'none',
          initialDelayMs: 10,
          onRetry: (_error, attempt, batch, delayMs) => retried.push([attempt, batch.length, delayMs]),
        },
      );
      expectObservable(cold<Element<number>>('-a-b-|', { a, b }).pipe(operator, map(summarize))).toBe('13ms (AB|)', {
        A: 'ok 1 1 x2',
        B: 'ok 2 2 x2',
      });
    });
    expect(calls).toBe(2);
    expect(retried).toEqual([[1, 2, 10]]);
  });

  it('fails every record of a batch whose write fails for good, so each is dead-lettered', () => {
    const [a, b] = elements([1, 2]);
    let failures: Element<number>[] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const operator = sinkBatch<number>(
        () => {
          throw new Error('connection refused');
        },
        { maxRecords: 2, attempts: 2, jitter: 'none', initialDelayMs: 10, name: 'rows.insert' },
      );
      const out = cold<Element<number>>('-a-b-|', { a, b }).pipe(operator);
      out.subscribe((el) => {
        failures = [...failures, el];
      });
      expectObservable(out.pipe(map(summarize))).toBe('13ms (AB|)', {
        A: 'failed 1 rows.insert TRIBUTARY_ERR_PROCESSING x2',
        B: 'failed 2 rows.insert TRIBUTARY_ERR_PROCESSING x2',
      });
    });
    const [first, second] = failures.map(expectFailed);
    expect(first?.error.message).toBe('batch write of 2 records failed after 2 attempts: connection refused');
    expect(first?.error.cause).toBeInstanceOf(TributaryError);
    expect([first?.error.offset, second?.error.offset]).toEqual([1n, 2n]);
    expect([a, b].map((el) => [el.ticket.settled, el.ticket.finished])).toEqual([
      [undefined, false],
      [undefined, false],
    ]);
  });
});

describe('sinkBatch', () => {
  it('writes one batch at a time and settles its records only once the write resolved', async () => {
    const writes: { values: number[]; done: ReturnType<typeof deferred> }[] = [];
    const input = new Subject<Element<number>>();
    const out: Element<number>[] = [];
    let completed = false;
    input
      .pipe(
        sinkBatch(
          (values: readonly number[]) => {
            const done = deferred();
            writes.push({ values: [...values], done });
            return done.promise;
          },
          { maxRecords: 2 },
        ),
      )
      .subscribe({ next: (el) => out.push(el), complete: () => (completed = true) });
    const [a, b, c, d, e] = elements([1, 2, 3, 4, 5]);
    for (const el of [a, b, c, d, e]) input.next(el);
    input.complete();
    expect(writes.map((w) => w.values)).toEqual([[1, 2]]); // [3, 4] waits for [1, 2]
    expect(a.ticket.settled).toBeUndefined();
    writes[0]?.done.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(out.map((el) => expectOk(el).value)).toEqual([1, 2]);
    expect([a, b, c].map((el) => el.ticket.settled)).toEqual(['sunk', 'sunk', undefined]);
    expect(writes.map((w) => w.values)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    writes[1]?.done.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(writes.map((w) => w.values)).toEqual([[1, 2], [3, 4], [5]]); // cut by the completion
    expect(completed).toBe(false);
    writes[2]?.done.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(out.map((el) => expectOk(el).value)).toEqual([1, 2, 3, 4, 5]);
    expect(completed).toBe(true);
  });

  it('keeps no timer alive while no record waits', () => {
    const virtual = new VirtualTimeScheduler();
    const scheduler = new RecordingScheduler(virtual);
    const { timers } = scheduler;
    const input = new Subject<Element<number>>();
    const out: number[] = [];
    input
      .pipe(sinkBatch(() => {}, { maxRecords: 2, maxWaitMs: 50, scheduler }))
      .subscribe((el) => out.push(expectOk(el).value));
    const [a, b, c] = elements([1, 2, 3]);
    input.next(a);
    expect(timers.filter((t) => !t.closed)).toHaveLength(1);
    input.next(b); // full: written at once, its timer cancelled
    expect(out).toEqual([1, 2]);
    expect(timers.filter((t) => !t.closed)).toHaveLength(0);
    input.next(c);
    virtual.flush();
    expect(out).toEqual([1, 2, 3]);
    expect(timers).toHaveLength(2);
    expect(timers.filter((t) => !t.closed)).toHaveLength(0);
  });

  it('rejects invalid options naming sinkBatch', () => {
    expect(() => sinkBatch(() => {}, { maxRecords: 0 })).toThrowError(/^sinkBatch: invalid options: maxRecords/);
    expect(() => sinkBatch(() => {}, { maxWaitMs: -1 })).toThrowError(/^sinkBatch: invalid options: maxWaitMs/);
  });

  it('describes every option, and the schema has the fields of SinkBatchOptions', () => {
    const json = z.toJSONSchema(sinkBatchOptionsSchema, { unrepresentable: 'any' }) as {
      description?: string;
      properties: Record<string, { description?: string }>;
    };
    expect(json.description).toMatch(/^Options of sinkBatch/);
    expect(Object.entries(json.properties).filter(([, field]) => !field.description)).toEqual([]);
    expectTypeOf<keyof z.input<typeof sinkBatchOptionsSchema>>().toEqualTypeOf<keyof SinkBatchOptions>();
  });
});

describe('sinkBatch in a pipeline (test driver)', () => {
  function driverFor(
    build: (records: Observable<Envelope<RawValue>>, scheduler: SchedulerLike) => Observable<Element<unknown>>,
    onSend?: Parameters<typeof createTestDriver>[1],
  ): TestDriver {
    const driver = createTestDriver(
      ({ scheduler }) =>
        definePipeline({
          name: 'batch-writer',
          source: { topics: ['results'], groupId: 'batch-writer-group' },
          deadLetter: { topic: 'results.dlq' },
          build: (records) => build(records, scheduler),
        }),
      onSend,
    );
    drivers.push(driver);
    return driver;
  }

  it('commits every record of a batch only after the batch write', async () => {
    const writes: { values: string[]; done: ReturnType<typeof deferred> }[] = [];
    const driver = driverFor((records, scheduler) =>
      records.pipe(
        sinkBatch(
          (values: readonly RawValue[]) => {
            const done = deferred();
            writes.push({ values: values.map(String), done });
            return done.promise;
          },
          { maxRecords: 3, maxWaitMs: 50, scheduler, name: 'results.insert' },
        ),
      ),
    );
    driver.inputTopic('results').pipeValues(['r0', 'r1', 'r2', 'r3', 'r4']);
    await driver.settle();
    expect(writes.map((w) => w.values)).toEqual([['r0', 'r1', 'r2']]);
    expect(driver.committable('results')).toEqual(new Map([[0, 0n]]));
    writes[0]?.done.resolve();
    await driver.settle();
    expect(driver.committable('results')).toEqual(new Map([[0, 3n]]));
    expect(driver.outcomes().map((o) => [o.offset, o.outcome])).toEqual([
      [0n, 'sunk'],
      [1n, 'sunk'],
      [2n, 'sunk'],
    ]);
    await driver.advanceTime(49);
    expect(writes).toHaveLength(1); // r3 and r4 wait for the batch's time limit
    await driver.advanceTime(1);
    expect(writes.map((w) => w.values)).toEqual([
      ['r0', 'r1', 'r2'],
      ['r3', 'r4'],
    ]);
    expect(driver.committable('results')).toEqual(new Map([[0, 3n]]));
    writes[1]?.done.resolve();
    await driver.settle();
    expect(driver.committable('results')).toEqual(new Map([[0, 5n]]));
    expect(driver.unfinished()).toEqual([]);
  });

  it('dead-letters every record of a batch whose write failed for good, and then commits them', async () => {
    const driver = driverFor((records, scheduler) =>
      records.pipe(
        sinkBatch(
          async () => {
            throw new Error('relation "results" does not exist');
          },
          { maxRecords: 2, attempts: 1, scheduler, name: 'results.insert' },
        ),
      ),
    );
    driver.inputTopic('results').pipeValues(['r0', 'r1']);
    await driver.settle();
    const dead = driver.deadLetterTopic().readDeadLetters();
    expect(dead.map((d) => [d.value, d.originalOffset, d.stage, d.errorCode])).toEqual([
      ['r0', 0n, 'results.insert', 'TRIBUTARY_ERR_PROCESSING'],
      ['r1', 1n, 'results.insert', 'TRIBUTARY_ERR_PROCESSING'],
    ]);
    expect(dead[0]?.exceptionMessage).toBe(
      'batch write of 2 records failed after 1 attempt: relation "results" does not exist',
    );
    expect(driver.committable('results')).toEqual(new Map([[0, 2n]]));
  });

  it('lets a later stage fail a record of a written batch: that record is dead-lettered, the others published', async () => {
    const driver = driverFor(
      (records, scheduler) =>
        records.pipe(
          sinkBatch(() => {}, { maxRecords: 2, scheduler }),
          publish('results.written'),
        ),
      {
        onSend: (record) => {
          if (record.topic === 'results.written' && String(record.value) === 'r1') {
            throw Object.assign(new Error('MESSAGE_TOO_LARGE'), { retriable: false });
          }
        },
      },
    );
    driver.inputTopic('results').pipeValues(['r0', 'r1']);
    await driver.settle();
    expect(driver.outputTopic('results.written', { decode: 'string' }).readValues()).toEqual(['r0']);
    expect(driver.deadLetterTopic().readDeadLetters()).toMatchObject([{ value: 'r1', stage: 'publish' }]);
    expect(driver.outcomes().map((o) => o.outcome)).toEqual(['published', 'dead_lettered']);
    expect(driver.committable('results')).toEqual(new Map([[0, 2n]]));
  });
});
