import { type Observable, type OperatorFunction, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type DedupeStore, dedupe } from '../../../operators/dedupe.js';
import { memoryDedupeStore } from '../../../operators/memoryDedupeStore.js';
import { sink } from '../../../operators/sink.js';
import { type Element, failed } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { abandonableEnvelope } from '../../support/abandonableTicket.js';
import {
  captureLogger,
  expectFailed,
  expectOk,
  runOperator,
  testContext,
  testEnvelope,
} from '../../support/envelopes.js';

interface Msg {
  id?: string;
  body: string;
}

const byId = (el: { value: Msg }) => el.value.id;

/** A store that records calls and how many `seen` calls overlap; `seen` answers after `delayMs`. */
function spyStore(delayMs = 0) {
  const ids = new Set<string>();
  const calls: string[] = [];
  const concurrency = { now: 0, max: 0, maxPerLane: 0, byLane: new Map<string, number>() };
  const store: DedupeStore = {
    async seen(id) {
      calls.push(`seen ${id}`);
      const lane = id.split('-')[0] ?? '';
      const inLane = (concurrency.byLane.get(lane) ?? 0) + 1;
      concurrency.byLane.set(lane, inLane);
      concurrency.now += 1;
      concurrency.max = Math.max(concurrency.max, concurrency.now);
      concurrency.maxPerLane = Math.max(concurrency.maxPerLane, inLane);
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      concurrency.now -= 1;
      concurrency.byLane.set(lane, inLane - 1);
      return ids.has(id);
    },
    async remember(id, ttlMs) {
      calls.push(`remember ${id} ${ttlMs}`);
      ids.add(id);
    },
  };
  return Object.assign(store, { ids, calls, concurrency });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Subscribes `operator` to a Subject the test feeds element by element; collects what it emits. */
function subscribed(operator: OperatorFunction<Element<Msg>, Element<Msg>>) {
  const input = new Subject<Element<Msg>>();
  const outputs: Element<Msg>[] = [];
  input.pipe(operator).subscribe({ next: (el) => outputs.push(el) });
  return { input, outputs };
}

describe('dedupe', () => {
  it("drops a record whose id was already processed, finishing it as 'filtered'", async () => {
    const store = spyStore();
    store.ids.add('m-1');
    const duplicate = testEnvelope<Msg>({ id: 'm-1', body: 'again' });
    const fresh = testEnvelope<Msg>({ id: 'm-2', body: 'new' });
    const outputs = await runOperator([duplicate, fresh], dedupe<Msg>({ id: byId, ttlMs: 60_000, store }));
    expect(outputs.map((el) => expectOk(el).value.body)).toEqual(['new']);
    expect(duplicate.ticket.outcome).toBe('filtered');
    expect(fresh.ticket.finished).toBe(false);
  });

  it("remembers an id only once its record finished as 'published', 'sunk' or 'filtered'", async () => {
    const store = spyStore();
    const inputs = ['p', 's', 'd', 'f'].map((id) => testEnvelope<Msg>({ id, body: id }));
    const outputs = await runOperator(inputs, dedupe<Msg>({ id: byId, ttlMs: 1_000, store }));
    expect(store.calls).toEqual(['seen p', 'seen s', 'seen d', 'seen f']);
    expect(store.ids.size).toBe(0); // emitted, not yet finished: nothing remembered

    const [p, s, d, f] = outputs.map((el) => expectOk(el));
    p?.ticket.finish('published');
    s?.ticket.finish('sunk');
    d?.ticket.finish('dead_lettered');
    f?.ticket.finish('filtered');
    await settle();
    expect([...store.ids].sort()).toEqual(['f', 'p', 's']);
    expect(store.calls.slice(4)).toEqual(['remember p 1000', 'remember s 1000', 'remember f 1000']);
    // the wrapped ticket finishes the original one
    expect(inputs.map((el) => el.ticket.outcome)).toEqual(['published', 'sunk', 'dead_lettered', 'filtered']);
    expect(outputs.map((el) => el.ticket.finished)).toEqual([true, true, true, true]);
  });

  it('does not remember when a success comes after another outcome (the first finish wins)', async () => {
    const store = spyStore();
    const [output] = await runOperator(
      [testEnvelope<Msg>({ id: 'x', body: '' })],
      dedupe<Msg>({ id: byId, ttlMs: 1_000, store }),
    );
    output?.ticket.finish('dead_lettered');
    output?.ticket.finish('published');
    output?.ticket.finish('sunk');
    await settle();
    expect(store.ids.size).toBe(0);
  });

  it('drops a second copy that arrives while the first is still in flight, within one run', async () => {
    const store = spyStore();
    const first = testEnvelope<Msg>({ id: 'dup', body: '1' }, { offset: 1, lane: 'a' });
    const second = testEnvelope<Msg>({ id: 'dup', body: '2' }, { offset: 2, lane: 'b' });
    const outputs = await runOperator([first, second], dedupe<Msg>({ id: byId, ttlMs: 1_000, store }));
    expect(outputs).toHaveLength(1);
    expect(second.ticket.outcome).toBe('filtered');
    expect(first.ticket.finished).toBe(false);
  });

  it("processes a copy as new once the first copy's partition was revoked (abandoned) before it finished", async () => {
    const { input, outputs } = subscribed(dedupe<Msg>({ id: byId, ttlMs: 60_000, store: memoryDedupeStore() }));
    const first = abandonableEnvelope<Msg>({ id: 'x', body: '1' }, { offset: 5 });
    input.next(first);
    await settle();
    first.ticket.abandon(); // the partition moved away and came back: the new owner receives X again
    const second = abandonableEnvelope<Msg>({ id: 'x', body: '2' }, { offset: 5 });
    input.next(second);
    await settle();
    expect(outputs.map((el) => expectOk(el).value.body)).toEqual(['1', '2']);
    expect(second.ticket.finished).toBe(false);

    // the second copy now holds the id: a third copy meanwhile is a duplicate, even after the abandoned one finishes
    const third = abandonableEnvelope<Msg>({ id: 'x', body: '3' }, { offset: 5 });
    input.next(third);
    outputs[0]?.ticket.finish('dead_lettered');
    const fourth = abandonableEnvelope<Msg>({ id: 'x', body: '4' }, { offset: 5 });
    input.next(fourth);
    await settle();
    expect([third.ticket.outcome, fourth.ticket.outcome]).toEqual(['filtered', 'filtered']);
    expect(outputs).toHaveLength(2);
  });

  it('drops a copy while the first copy is in flight and not abandoned', async () => {
    const { input, outputs } = subscribed(dedupe<Msg>({ id: byId, ttlMs: 60_000, store: memoryDedupeStore() }));
    const first = abandonableEnvelope<Msg>({ id: 'y', body: '1' }, { offset: 7 });
    const second = abandonableEnvelope<Msg>({ id: 'y', body: '2' }, { offset: 7 });
    input.next(first);
    await settle();
    input.next(second);
    await settle();
    expect(outputs.map((el) => expectOk(el).value.body)).toEqual(['1']);
    expect(second.ticket.outcome).toBe('filtered');
    expect(first.ticket.finished).toBe(false);
  });

  it('sweeping out the ids of many abandoned copies keeps the live ones', async () => {
    const { input, outputs } = subscribed(dedupe<Msg>({ id: byId, ttlMs: 60_000, store: memoryDedupeStore() }));
    input.next(abandonableEnvelope<Msg>({ id: 'live', body: 'live' }));
    // more than the 1024 entries at which the set is first swept; one lane each, so they are checked concurrently
    const context = testContext();
    const abandoned = Array.from({ length: 1100 }, (_, i) =>
      abandonableEnvelope<Msg>({ id: `a${i}`, body: 'a' }, { lane: `l${i}`, context }),
    );
    for (const el of abandoned) {
      input.next(el);
      el.ticket.abandon();
    }
    await settle();
    const liveCopy = abandonableEnvelope<Msg>({ id: 'live', body: 'again' });
    const abandonedCopy = abandonableEnvelope<Msg>({ id: 'a7', body: 'again' });
    input.next(liveCopy);
    input.next(abandonedCopy);
    await settle();
    expect(liveCopy.ticket.outcome).toBe('filtered');
    expect(abandonedCopy.ticket.finished).toBe(false);
    expect(outputs).toHaveLength(1102);
  });

  it('never drops a redelivery of a record that did not finish (crash before the outcome)', async () => {
    const store = memoryDedupeStore();
    const operator = dedupe<Msg>({ id: byId, ttlMs: 60_000, store });
    // first delivery: emitted, then the process "crashes" before the record finishes
    const first = await runOperator([testEnvelope<Msg>({ id: 'm-9', body: 'v' }, { offset: 9 })], operator);
    expect(first).toHaveLength(1);
    // redelivery after restart: processed again, not dropped
    const redelivered = testEnvelope<Msg>({ id: 'm-9', body: 'v' }, { offset: 9 });
    const second = await runOperator([redelivered], operator);
    expect(second).toHaveLength(1);
    expect(redelivered.ticket.finished).toBe(false);
    second[0]?.ticket.finish('published');
    await settle();
    // a third delivery after success is a duplicate
    const third = testEnvelope<Msg>({ id: 'm-9', body: 'v' }, { offset: 9 });
    expect(await runOperator([third], operator)).toEqual([]);
    expect(third.ticket.outcome).toBe('filtered');
  });

  it('drops duplicates behind a sink once the first copy was sunk', async () => {
    const written: string[] = [];
    const input = new Subject<Element<Msg>>();
    const outputs: Element<Msg>[] = [];
    const done = new Promise<void>((resolve) => {
      input
        .pipe(
          dedupe<Msg>({ id: byId, ttlMs: 60_000 }),
          sink(async (msg: Msg) => {
            written.push(msg.body);
          }),
        )
        .subscribe({
          next: (el) => {
            // the end of the chain, as the runner does it: finish with the settled outcome
            el.ticket.finish(el.ticket.settled ?? 'sunk');
            outputs.push(el);
          },
          complete: resolve,
        });
    });
    const one = testEnvelope<Msg>({ id: 'a', body: 'first' });
    const two = testEnvelope<Msg>({ id: 'a', body: 'duplicate' });
    const three = testEnvelope<Msg>({ id: 'b', body: 'other' });
    input.next(one);
    await settle();
    await settle();
    input.next(two);
    input.next(three);
    input.complete();
    await done;
    expect(written).toEqual(['first', 'other']);
    expect([one, two, three].map((el) => el.ticket.outcome)).toEqual(['sunk', 'filtered', 'sunk']);
  });

  it('passes records without an id, and failed elements, through', async () => {
    const store = spyStore();
    store.ids.add('undefined');
    const noId = testEnvelope<Msg>({ body: 'no id' });
    const earlier = failed(
      testEnvelope<Msg>({ id: 'z', body: '' }),
      'parseJson',
      new TributaryError('TRIBUTARY_ERR_PARSE', 'bad'),
    );
    const outputs = await runOperator([noId, earlier], dedupe<Msg>({ id: byId, ttlMs: 1_000, store }));
    expect(outputs[0]).toBe(noId);
    expect(outputs[1]).toBe(earlier);
    expect(store.calls).toEqual([]);
  });

  it('fails a record whose id() throws', async () => {
    const [output] = await runOperator(
      [testEnvelope<Msg>({ body: '' }, { offset: 4 })],
      dedupe<Msg>({
        id: () => {
          throw new Error('no header');
        },
        ttlMs: 1_000,
        name: 'scrape.dedupe',
      }),
    );
    const failure = expectFailed(output);
    expect([failure.stage, failure.error.code, failure.error.message, failure.error.retriable]).toEqual([
      'scrape.dedupe',
      'TRIBUTARY_ERR_PROCESSING',
      'id() threw: no header',
      false,
    ]);
  });

  it("processes the record as new when the store fails ('process', logged) or fails it ('fail')", async () => {
    const broken: DedupeStore = {
      seen: async () => {
        throw new Error('ECONNREFUSED');
      },
      remember: async () => {},
    };
    const { logger, lines } = captureLogger('warn');
    const context = testContext({ logger });
    const input = testEnvelope<Msg>({ id: 'k', body: '' }, { context, topic: 'scraping-tasks', offset: 3 });
    const [processed] = await runOperator([input], dedupe<Msg>({ id: byId, ttlMs: 1_000, store: broken }));
    expect(expectOk(processed).value.id).toBe('k');
    expect(lines).toMatchObject([
      {
        level: 40,
        msg: 'dedupe: store failed; processing the record as new',
        stage: 'dedupe',
        topic: 'scraping-tasks',
        offset: '3',
        dedupeId: 'k',
        err: { message: 'ECONNREFUSED' },
      },
    ]);

    const [failedOutput] = await runOperator(
      [testEnvelope<Msg>({ id: 'k', body: '' })],
      dedupe<Msg>({ id: byId, ttlMs: 1_000, store: broken, onStoreError: 'fail' }),
    );
    const failure = expectFailed(failedOutput);
    expect(failure.error.code).toBe('TRIBUTARY_ERR_PROCESSING');
    expect(failure.error.message).toBe('dedupe store failed: ECONNREFUSED');
  });

  it('logs (and survives) a store that cannot remember', async () => {
    const { logger, lines } = captureLogger('warn');
    const store: DedupeStore = {
      seen: async () => false,
      remember: async () => {
        throw new Error('READONLY');
      },
    };
    const [output] = await runOperator(
      [testEnvelope<Msg>({ id: 'r', body: '' }, { context: testContext({ logger }) })],
      dedupe<Msg>({ id: byId, ttlMs: 1_000, store }),
    );
    output?.ticket.finish('published');
    await settle();
    expect(lines).toMatchObject([{ level: 40, dedupeId: 'r', err: { message: 'READONLY' } }]);
    expect(String(lines[0]?.msg)).toMatch(/^dedupe: could not remember the id/);
  });

  it('checks the store in lane order, lanes concurrently', async () => {
    const store = spyStore(5);
    const inputs = [0, 1, 2].flatMap((i) =>
      ['p0', 'p1'].map((lane) => testEnvelope<Msg>({ id: `${lane}-${i}`, body: `${lane}#${i}` }, { lane })),
    );
    const outputs = await runOperator(inputs, dedupe<Msg>({ id: byId, ttlMs: 1_000, store }));
    const bodies = (lane: string) =>
      outputs.filter((el) => el.origin.lane === lane).map((el) => expectOk(el).value.body);
    expect(bodies('p0')).toEqual(['p0#0', 'p0#1', 'p0#2']);
    expect(bodies('p1')).toEqual(['p1#0', 'p1#1', 'p1#2']);
    expect(store.calls.slice(0, 2)).toEqual(['seen p0-0', 'seen p1-0']);
    expect(store.concurrency.maxPerLane).toBe(1);
    expect(store.concurrency.max).toBe(2);
  });

  it('rejects invalid options when the pipeline is built', () => {
    expect(() => dedupe<Msg>({ id: byId, ttlMs: 0 })).toThrowError(/dedupe: invalid options: ttlMs/);
    expect(() => dedupe<Msg>({ id: byId } as never)).toThrowError(/ttlMs/);
    expect(() => dedupe<Msg>({ id: byId, ttlMs: 1, store: {} as never })).toThrowError(/store: expected a DedupeStore/);
  });

  it('type-checks against the element type', () => {
    const op = dedupe<Msg>({ id: (el) => el.value.id, ttlMs: 1 });
    const typed: (source: Observable<Element<Msg>>) => Observable<Element<Msg>> = op;
    expect(typeof typed).toBe('function');
  });
});
