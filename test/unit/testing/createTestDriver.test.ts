import { EMPTY, from, ignoreElements, map, mergeMap, type Observable, of, tap } from 'rxjs';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import {
  DEAD_LETTER_HEADERS,
  definePipeline,
  type Element,
  type EngineObserver,
  type Envelope,
  failed,
  mapValue,
  type OrderingMode,
  type Outcome,
  parse,
  parseJson,
  publish,
  type RawValue,
  readIntegerHeader,
  retryWithBackoff,
  TributaryError,
  validate,
} from '../../../src/index.js';
import {
  createPartitionChooser,
  createTestDriver,
  type TestDriver,
  type TestDriverOptions,
  type TestOutputTopic,
} from '../../../src/testing/index.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

type Build = (records: Observable<Envelope<RawValue>>) => Observable<Element<unknown>>;

function pipeline(build: Build, extra: { ordering?: OrderingMode; maxInFlight?: number; topics?: string[] } = {}) {
  return definePipeline({
    name: 'under-test',
    source: { topics: extra.topics ?? ['in'], groupId: 'under-test-group' },
    deadLetter: { topic: 'in.dlq' },
    ...(extra.ordering ? { ordering: extra.ordering } : {}),
    ...(extra.maxInFlight ? { maxInFlight: extra.maxInFlight } : {}),
    build,
  });
}

function driverFor(build: Build, extra: Parameters<typeof pipeline>[1] = {}, options: TestDriverOptions = {}) {
  const driver = createTestDriver(pipeline(build, extra), options);
  drivers.push(driver);
  return driver;
}

/** A deferred promise a test resolves by hand. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

type Deferred = ReturnType<typeof deferred<void>>;

const Order = z.object({ id: z.string(), total: z.number().nonnegative() });

describe('createTestDriver', () => {
  describe('input topics and envelopes', () => {
    it('delivers asynchronously, as a broker does: records are fetched and published once the driver settles', async () => {
      const driver = driverFor((r) => r.pipe(parseJson(), validate(Order), publish('out')));
      const position = driver.inputTopic('in').pipeInput({ key: 'o1', value: { id: 'o1', total: 5 } });
      expect(position).toEqual({ topic: 'in', partition: 0, offset: 0n });
      expect(driver.outputTopic('out').isEmpty()).toBe(true);
      await driver.settle();
      expect(driver.outputTopic('out').readValues()).toEqual([{ id: 'o1', total: 5 }]);
    });

    it('encodes objects as JSON, strings as UTF-8, Buffers as is and null as a tombstone', async () => {
      const seen: Envelope<RawValue>[] = [];
      const driver = driverFor((r) => r.pipe(tap((e) => e.ok && seen.push(e))));
      driver.inputTopic('in').pipeValues([{ a: 1 }, 'text', Buffer.from([0xff, 0x00]), null, 12n]);
      await driver.settle();
      expect(seen.map((e) => e.value)).toEqual([
        Buffer.from('{"a":1}'),
        Buffer.from('text'),
        Buffer.from([0xff, 0x00]),
        null,
        Buffer.from('"12"'),
      ]);
      expect(seen.map((e) => e.origin.raw)).toEqual(seen.map((e) => e.value));
      expect(() => driver.inputTopic('in').pipeInput({ value: undefined })).toThrow(/null for a tombstone/);
    });

    it('builds the origin like the engine: offsets per partition, key bytes, header bytes, timestamp, correlation id', async () => {
      const seen: Envelope<RawValue>[] = [];
      const driver = driverFor((r) => r.pipe(tap((e) => e.ok && seen.push(e))), {}, { partitions: { in: 3 } });
      const input = driver.inputTopic('in');
      const keys = ['a', 'b', 'c', 'd', 'a', 'a'];
      const positions = input.pipeKeyValues(keys.map((k, i) => [k, { i }] as const));
      input.pipeInput({
        key: Buffer.from('z'),
        value: 'x',
        headers: { 'correlation-id': 'corr-1', multi: ['one', Buffer.from('two')] },
        partition: 2,
        timestamp: new Date('2024-05-01T00:00:00Z'),
      });
      await driver.settle();
      const choose = createPartitionChooser();
      keys.forEach((k, i) => {
        expect(positions[i]?.partition).toBe(choose('in', 3, Buffer.from(k)));
      });
      // offsets count per partition
      const aPartition = positions[0]?.partition;
      expect(positions.filter((p) => p.partition === aPartition).map((p) => p.offset)).toEqual(
        positions.filter((p) => p.partition === aPartition).map((_, i) => BigInt(i)),
      );
      const first = seen[0];
      expect(first?.origin).toMatchObject({
        pipeline: 'under-test',
        groupId: 'under-test-group',
        topic: 'in',
        key: Buffer.from('a'),
        timestamp: String(driver.now()),
        correlationId: `in-${first?.origin.partition}-0`,
      });
      const last = seen[seen.length - 1];
      expect(last?.origin.partition).toBe(2);
      expect(last?.origin.correlationId).toBe('corr-1');
      expect(last?.origin.timestamp).toBe(String(Date.parse('2024-05-01T00:00:00Z')));
      // a broker hands header values to consumers as bytes
      expect(last?.origin.headers['correlation-id']).toEqual(Buffer.from('corr-1'));
      expect(last?.origin.headers.multi).toEqual([Buffer.from('one'), Buffer.from('two')]);
      expect(last?.attempts).toBe(0);
      expect(() => input.pipeInput({ value: 'x', partition: 3 })).toThrow(/no partition 3/);
    });

    it.each([
      ['partition', ['in/0', 'in/0', 'in/0']],
      ['key', ['in/0/YQ==', 'in/0/Yg==', 'in/0']],
      ['unordered', ['in/0@0', 'in/0@1', 'in/0@2']],
    ] as const)('gives %s ordering the engine lanes', async (ordering, lanes) => {
      const seen: string[] = [];
      const driver = driverFor((r) => r.pipe(tap((e) => seen.push(e.origin.lane))), { ordering });
      driver.inputTopic('in').pipeRecords([{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { value: 3 }]);
      await driver.settle();
      expect(seen).toEqual(lanes);
    });

    it('keeps partitions fixed once a topic holds records', () => {
      const driver = driverFor((r) => r);
      driver.inputTopic('in', { partitions: 4 });
      driver.inputTopic('in').pipeValues([1]);
      expect(() => driver.inputTopic('in', { partitions: 2 })).toThrow(/exists with 4 partitions and holds records/);
      expect(() => driver.inputTopic('other', { partitions: 0 })).toThrow(RangeError);
    });
  });

  describe('output and dead-letter topics', () => {
    it('reads published records with key, headers, partition and offset; reading consumes', async () => {
      const driver = driverFor(
        (r) =>
          r.pipe(
            parseJson(),
            validate(Order),
            publish('orders.out', {
              key: (e) => e.value.id,
              headers: () => ({ 'event-type': 'order.accepted' }),
            }),
          ),
        {},
        { partitions: { 'orders.out': 2 } },
      );
      driver.inputTopic('in').pipeKeyValues([
        ['k1', { id: 'o1', total: 1 }],
        ['k2', { id: 'o2', total: 2 }],
      ]);
      await driver.settle();
      const out = driver.outputTopic('orders.out', { schema: Order });
      expectTypeOf(out).toEqualTypeOf<TestOutputTopic<{ id: string; total: number }>>();
      expect(out.size).toBe(2);
      const peeked = out.peekRecords();
      expect(out.size).toBe(2);
      const first = out.readRecord();
      expect(first).toEqual(peeked[0]);
      expect(first).toMatchObject({
        topic: 'orders.out',
        partition: createPartitionChooser()('orders.out', 2, Buffer.from('o1')),
        offset: 0n,
        key: 'o1',
        value: { id: 'o1', total: 1 },
        headers: { 'event-type': 'order.accepted' }, // no correlation-id header came in, none is added
      });
      expect(out.readKeyValues()).toEqual([{ key: 'o2', value: { id: 'o2', total: 2 } }]);
      expect(out.isEmpty()).toBe(true);
      expect(() => out.readRecord()).toThrow(/empty/);
      expect(out.allRecords()).toHaveLength(2);
      // another view of the same topic shares the read position
      expect(driver.outputTopic('orders.out').isEmpty()).toBe(true);
    });

    it('decodes as JSON by default, or as text, bytes, a function; a schema mismatch names the record', async () => {
      const driver = driverFor((r) => r.pipe(publish('out')));
      driver.inputTopic('in').pipeValues(['{"n":1}', 'plain', null]);
      await driver.settle();
      const all = driver.outputTopic('out');
      expect(() => all.readValues()).toThrow(/out\/0@1: cannot decode the value/);
      expect(
        driver
          .outputTopic('out', { decode: 'string' })
          .peekRecords()
          .map((r) => r.value),
      ).toEqual(['{"n":1}', 'plain', null]);
      expect(driver.outputTopic('out', { decode: 'bytes' }).peekRecords()[1]?.value).toEqual(Buffer.from('plain'));
      const lengths = driver.outputTopic('out', { decode: (raw) => raw?.length ?? -1 });
      expectTypeOf(lengths.readValue()).toEqualTypeOf<number>();
      expect(lengths.readValues()).toEqual([5, -1]);
      expect(driver.outputTopic('out').isEmpty()).toBe(true);
      driver.inputTopic('in').pipeValues([{ n: 1 }]);
      await driver.settle();
      expect(() => driver.outputTopic('out', { schema: z.object({ n: z.string() }) }).readValues()).toThrow(
        /out\/0@3: cannot decode the value \(schema mismatch: .*n/s,
      );
      expect(driver.outputTopic('out', { schema: z.object({ n: z.number() }) }).readValues()).toEqual([{ n: 1 }]);
    });

    it('dead-letters failures reaching the end of the chain with the original bytes and Spring-compatible headers', async () => {
      const driver = driverFor((r) =>
        r.pipe(parseJson({ name: 'orders.parse' }), validate(Order, { name: 'orders.validate' })),
      );
      driver
        .inputTopic('in')
        .pipeInput({ key: 'k', value: '{"id":', headers: { 'correlation-id': 'c-9', trace: 't1' } });
      driver.inputTopic('in').pipeInput({ key: 'k', value: { id: 'o1', total: -1 } });
      driver.inputTopic('in').pipeInput({ key: 'k', value: null });
      await driver.settle();
      const [malformed, invalid, tombstone] = driver.deadLetterTopic().readDeadLetters();
      expect(malformed).toMatchObject({
        topic: 'in.dlq',
        key: 'k',
        value: '{"id":',
        originalTopic: 'in',
        originalPartition: 0,
        originalOffset: 0n,
        originalConsumerGroup: 'under-test-group',
        originalTimestamp: String(driver.now()),
        exceptionFqcn: 'TributaryError.TRIBUTARY_ERR_PARSE',
        exceptionCauseFqcn: 'SyntaxError',
        pipeline: 'under-test',
        stage: 'orders.parse',
        attempts: 0,
        errorCode: 'TRIBUTARY_ERR_PARSE',
        headers: { 'correlation-id': 'c-9', trace: 't1' },
      });
      expect(malformed?.exceptionMessage).toMatch(/^malformed JSON/);
      expect(readIntegerHeader(malformed?.rawHeaders[DEAD_LETTER_HEADERS.originalOffset])).toBe(0n);
      expect(malformed?.rawHeaders[DEAD_LETTER_HEADERS.originalOffset]).toHaveLength(8); // Spring's int64
      expect(invalid).toMatchObject({ stage: 'orders.validate', errorCode: 'TRIBUTARY_ERR_VALIDATION' });
      expect(invalid?.exceptionMessage).toContain('total');
      expect(tombstone).toMatchObject({ value: null, stage: 'orders.parse', originalOffset: 2n });
      expect(driver.outcomes().map((o) => o.outcome)).toEqual(['dead_lettered', 'dead_lettered', 'dead_lettered']);
      const warn = driver.logs.find((l) => l.level === 'warn' && String(l.msg).startsWith('dead-lettered'));
      expect(warn).toMatchObject({ pipeline: 'under-test', topic: 'in', offset: '0', correlationId: 'c-9' });
    });

    it('dead-letters through context.deadLetter to another topic', async () => {
      const driver = driverFor((r) =>
        r.pipe(
          mergeMap((e): Observable<Element<RawValue>> => {
            if (!e.ok) return of(e);
            const f = failed(e, 'custom', new TributaryError('TRIBUTARY_ERR_PROCESSING', 'nope'));
            return from(e.context.deadLetter(f, 'parking')).pipe(ignoreElements());
          }),
        ),
      );
      driver.inputTopic('in').pipeValues(['x']);
      await driver.settle();
      expect(driver.deadLetterTopic('parking').readDeadLetters()).toMatchObject([{ value: 'x', stage: 'custom' }]);
      expect(driver.deadLetterTopic().isEmpty()).toBe(true);
      expect(driver.outcomes().map((o) => o.outcome)).toEqual(['dead_lettered']);
    });
  });

  describe('offsets and outcomes', () => {
    it('commits the lowest unfinished offset: nothing past a record still in flight', async () => {
      const gates = new Map<number, Deferred>();
      const driver = driverFor(
        (r) =>
          r.pipe(
            parseJson<number>(),
            retryWithBackoff((n) => {
              const gate = deferred();
              gates.set(n, gate);
              return gate.promise.then(() => n);
            }),
            publish('out'),
          ),
        { ordering: 'unordered' },
      );
      driver.inputTopic('in').pipeValues([0, 1, 2, 3]);
      await driver.settle();
      expect(driver.committable('in')).toEqual(new Map([[0, 0n]])); // next offset to read: 0
      gates.get(1)?.resolve();
      gates.get(2)?.resolve();
      await driver.settle();
      expect(driver.committable('in')).toEqual(new Map([[0, 0n]]));
      expect(driver.unfinished().map((u) => u.offset)).toEqual([0n, 3n]);
      gates.get(0)?.resolve();
      await driver.settle();
      expect(driver.committable('in')).toEqual(new Map([[0, 3n]]));
      gates.get(3)?.resolve();
      await driver.settle();
      expect(driver.committedOffsets()).toEqual([
        { pipeline: 'under-test', groupId: 'under-test-group', topic: 'in', partition: 0, offset: 4n },
      ]);
      expect(driver.outcomes().map((o) => Number(o.offset))).toEqual([1, 2, 0, 3]);
      expect(driver.outputTopic('out').readValues()).toEqual([1, 2, 0, 3]);
    });

    it('counts filtered and sunk outcomes as finished', async () => {
      const driver = driverFor(
        (r) =>
          r.pipe(
            parseJson<number>(),
            tap((e) => {
              if (e.ok && e.value % 2 === 0) e.ticket.finish('filtered');
            }),
          ),
        {},
        { partitions: { in: 2 } },
      );
      driver.inputTopic('in').pipeValues([1, 2, 3, 4, 5]); // round-robin: 1, 3, 5 in partition 0; 2, 4 in 1
      await driver.settle();
      // the consumer hands over one partition's batch at a time: partition 0's, then partition 1's
      expect(driver.outcomes().map((o) => `${o.partition}@${o.offset} ${o.outcome}`)).toEqual([
        '0@0 sunk',
        '0@1 sunk',
        '0@2 sunk',
        '1@0 filtered',
        '1@1 filtered',
      ]);
      expect(driver.outcomes().map((o) => o.outcome)).toEqual<Outcome[]>([
        'sunk',
        'sunk',
        'sunk',
        'filtered',
        'filtered',
      ]);
      expect(driver.committable('in')).toEqual(
        new Map([
          [0, 3n],
          [1, 2n],
        ]),
      );
    });

    it('admits at most maxInFlight records; the rest wait, in order', async () => {
      const gates: Deferred[] = [];
      const admitted: number[] = [];
      const driver = driverFor(
        (r) =>
          r.pipe(
            parseJson<number>(),
            tap((e) => e.ok && admitted.push(e.value)),
            retryWithBackoff(() => {
              const gate = deferred();
              gates.push(gate);
              return gate.promise;
            }),
          ),
        { ordering: 'unordered', maxInFlight: 2 },
      );
      driver.inputTopic('in').pipeValues([0, 1, 2, 3, 4]);
      await driver.settle();
      expect(admitted).toEqual([0, 1]);
      expect(driver.unfinished().map((u) => `${u.offset}:${u.state}`)).toEqual([
        '0:in-flight',
        '1:in-flight',
        '2:waiting',
        '3:waiting',
        '4:waiting',
      ]);
      gates[1]?.resolve();
      await driver.settle();
      expect(admitted).toEqual([0, 1, 2]);
      for (const g of gates) g.resolve();
      await driver.settle();
      for (const g of gates) g.resolve();
      await driver.settle();
      for (const g of gates) g.resolve();
      await driver.settle();
      expect(admitted).toEqual([0, 1, 2, 3, 4]);
      expect(driver.committable('in')).toEqual(new Map([[0, 5n]]));
    });

    it('reports to an EngineObserver like the engine does', async () => {
      const events: string[] = [];
      const observer: EngineObserver = {
        recordsConsumed: (p, t, part, n) => events.push(`consumed ${p} ${t}/${part} ${n}`),
        recordFinished: (p, t, outcome, s) => events.push(`finished ${p} ${t} ${outcome} ${s}s`),
        retried: (p, stage) => events.push(`retried ${p} ${stage}`),
        inFlight: () => {},
        partitionsPaused: () => {},
        offsetCommitted: (p, g, t, part, offset) => events.push(`committed ${p} ${g} ${t}/${part} ${offset}`),
        commitDone: () => {},
        assigned: () => {},
        producerSent: (n, _s, ok) => events.push(`sent ${n} ${ok}`),
        released: (p, g) => events.push(`released ${p} ${g}`),
        oldestUnfinished: () => {},
      };
      const driver = createTestDriver(
        ({ scheduler }) =>
          pipeline((r) =>
            r.pipe(
              retryWithBackoff(
                (_v, _e, { attempt }) => {
                  if (attempt === 1) throw new Error('once');
                  return 'ok';
                },
                { name: 'flaky', scheduler, jitter: 'none', initialDelayMs: 250 },
              ),
              publish('out'),
            ),
          ),
        { observer },
      );
      drivers.push(driver);
      driver.inputTopic('in').pipeValues(['x']);
      await driver.advanceTime(250);
      driver.committedOffsets();
      await driver.close();
      // the engine counts a batch's records as consumed once it admitted them all: after the first attempt ran
      expect(events).toEqual([
        'retried under-test flaky',
        'consumed under-test in/0 1',
        'sent 1 true',
        'finished under-test in published 0.25s',
        'committed under-test under-test-group in/0 1',
        'released under-test under-test-group',
      ]);
    });
  });

  describe('time', () => {
    it('runs retryWithBackoff waits on the virtual clock: nothing happens until time is advanced', async () => {
      const calls: number[] = [];
      const driver = createTestDriver(({ scheduler, now }) =>
        pipeline((r) =>
          r.pipe(
            parse('string'),
            retryWithBackoff(
              async (v, _e, { attempt }) => {
                calls.push(now());
                if (attempt < 3) throw new Error(`transient ${attempt}`);
                return v.toUpperCase();
              },
              { scheduler, jitter: 'none', initialDelayMs: 1000, multiplier: 2 },
            ),
            publish('out'),
          ),
        ),
      );
      drivers.push(driver);
      const t0 = driver.now();
      driver.inputTopic('in').pipeValues(['a']);
      await driver.settle();
      expect(calls).toEqual([t0]);
      await driver.advanceTime(999);
      expect(calls).toEqual([t0]);
      await driver.advanceTime(1);
      expect(calls).toEqual([t0, t0 + 1000]);
      expect(driver.outputTopic('out').isEmpty()).toBe(true);
      await driver.advanceTime(2000);
      expect(calls).toEqual([t0, t0 + 1000, t0 + 3000]);
      expect(driver.outputTopic('out', { decode: 'string' }).readValues()).toEqual(['A']);
      expect(driver.now()).toBe(t0 + 3000);
      expect(driver.outcomes()[0]).toMatchObject({ outcome: 'published', durationMs: 3000 });
      expect(driver.logs.filter((l) => l.msg === 'retryWithBackoff: attempt failed; retrying')).toHaveLength(2);
    });

    it('times attempts out on the virtual clock (timeoutMs) and dead-letters after the last one', async () => {
      const driver = createTestDriver(({ scheduler }) =>
        pipeline((r) =>
          r.pipe(
            retryWithBackoff(() => new Promise<never>(() => {}), {
              name: 'hangs',
              scheduler,
              attempts: 2,
              timeoutMs: 5000,
              jitter: 'none',
              initialDelayMs: 100,
            }),
          ),
        ),
      );
      drivers.push(driver);
      driver.inputTopic('in').pipeValues(['x']);
      await driver.advanceTime(5000);
      expect(driver.deadLetterTopic().isEmpty()).toBe(true);
      await driver.advanceTime(5100);
      const [dead] = driver.deadLetterTopic().readDeadLetters();
      expect(dead).toMatchObject({ stage: 'hangs', errorCode: 'TRIBUTARY_ERR_TIMEOUT', attempts: 2 });
      expect(dead?.exceptionMessage).toMatch(/failed after 2 attempts: attempt 2 did not settle within 5000 ms/);
    });

    it('flush() advances through every pending timer', async () => {
      const driver = createTestDriver(({ scheduler }) =>
        pipeline((r) =>
          r.pipe(
            retryWithBackoff(
              (_v, _e, { attempt }) => {
                if (attempt < 4) throw new Error('again');
                return 'done';
              },
              { scheduler, attempts: 4, jitter: 'none', initialDelayMs: 60_000, maxDelayMs: 60_000 },
            ),
            publish('out'),
          ),
        ),
      );
      drivers.push(driver);
      const t0 = driver.now();
      driver.inputTopic('in').pipeValues(['x']);
      await driver.flush();
      expect(driver.outputTopic('out', { decode: 'string' }).readValues()).toEqual(['done']);
      expect(driver.now()).toBe(t0 + 180_000);
      // only the engine's recurring timers are left: its commit loop and watchdog
      expect(driver.scheduler.pendingTimers).toBe(2);
      expect(driver.scheduler.nextTimerAt({ oneShot: true })).toBeUndefined();
    });

    it('settle({ realTimeoutMs }) also waits for work on real timers', async () => {
      const driver = driverFor((r) =>
        r.pipe(
          retryWithBackoff(() => new Promise((done) => setTimeout(() => done('late'), 30))),
          publish('out'),
        ),
      );
      driver.inputTopic('in').pipeValues(['x']);
      await driver.settle();
      expect(driver.outputTopic('out').isEmpty()).toBe(true);
      await driver.settle({ realTimeoutMs: 2000 });
      expect(driver.outputTopic('out', { decode: 'string' }).readValues()).toEqual(['late']);
    });

    it('rejects a negative advance', async () => {
      const driver = driverFor((r) => r);
      await expect(driver.advanceTime(-1)).rejects.toThrow(RangeError);
    });
  });

  describe('the producer', () => {
    it('a permanent refusal fails publish and the record is dead-lettered; transient ones are re-sent in virtual time', async () => {
      let transient = 2;
      const driver = driverFor(
        (r) => r.pipe(publish('out')),
        {},
        {
          onSend: (record) => {
            if (record.topic === 'out' && String(record.value) === 'too-big') {
              throw Object.assign(new Error('MESSAGE_TOO_LARGE'), { retriable: false });
            }
            if (record.topic === 'out' && String(record.value) === 'slow' && transient-- > 0) {
              throw new Error('leader not available');
            }
          },
        },
      );
      driver.inputTopic('in').pipeValues(['ok', 'too-big', 'slow']);
      await driver.settle();
      expect(driver.outputTopic('out', { decode: 'string' }).readValues()).toEqual(['ok']);
      const [dead] = driver.deadLetterTopic().readDeadLetters();
      expect(dead).toMatchObject({ value: 'too-big', stage: 'publish', errorCode: 'TRIBUTARY_ERR_PUBLISH' });
      await driver.advanceTime(100);
      expect(driver.outputTopic('out').isEmpty()).toBe(true);
      await driver.advanceTime(200);
      expect(driver.outputTopic('out', { decode: 'string' }).readValues()).toEqual(['slow']);
      expect(driver.committable('in')).toEqual(new Map([[0, 3n]]));
    });

    it('keeps a record unfinished (uncommitted) while its dead letter cannot be published', async () => {
      let down = true;
      const driver = driverFor(
        (r) => r.pipe(parseJson()),
        {},
        {
          onSend: (record) => {
            if (record.topic === 'in.dlq' && down) throw new Error('broker unreachable');
          },
        },
      );
      driver.inputTopic('in').pipeValues(['{bad']);
      await driver.advanceTime(10_000);
      expect(driver.deadLetterTopic().isEmpty()).toBe(true);
      expect(driver.committable('in')).toEqual(new Map([[0, 0n]]));
      expect(driver.unfinished()).toMatchObject([{ offset: 0n, state: 'in-flight' }]);
      // like the engine's producer, a transient failure is re-sent (100 ms, 200 ms, ... 5 s apart)
      const resends = driver.logs.filter((l) => l.msg === 'produce failed, re-sending the batch: broker unreachable');
      expect(resends.map((l) => l.retryInMs)).toEqual([100, 200, 400, 800, 1600, 3200, 5000]);
      down = false;
      await driver.advanceTime(10_000);
      expect(driver.deadLetterTopic().readDeadLetters()).toHaveLength(1);
      expect(driver.committable('in')).toEqual(new Map([[0, 1n]]));
    });

    it('dead-letters without the value when the dead-letter topic refuses it for good', async () => {
      const driver = driverFor(
        (r) => r.pipe(parseJson()),
        {},
        {
          onSend: (record) => {
            if (record.topic === 'in.dlq' && record.value !== null) {
              throw Object.assign(new Error('MESSAGE_TOO_LARGE'), { retriable: false });
            }
          },
        },
      );
      driver.inputTopic('in').pipeValues(['x'.repeat(100)]);
      await driver.settle();
      const [dead] = driver.deadLetterTopic().readDeadLetters();
      expect(dead).toMatchObject({ value: null, stage: 'parseJson' });
      expect(dead?.valueOmitted).toMatch(/dead-letter topic refused the value: MESSAGE_TOO_LARGE/);
      expect(dead?.headersOmitted).toBeUndefined();
      expect(dead?.keyOmitted).toBeUndefined();
      expect(driver.committable('in')).toEqual(new Map([[0, 1n]]));
    });

    it('reads headersOmitted and keyOmitted of the minimal dead letters', async () => {
      // the dead-letter topic takes only records without a value and without the user's headers; a key of 'big' too
      const driver = driverFor(
        (r) => r.pipe(parseJson()),
        {},
        {
          onSend: (record) => {
            if (record.topic !== 'in.dlq') return;
            const big =
              record.value !== null || record.headers?.['event-type'] !== undefined || String(record.key) === 'big';
            if (big) throw Object.assign(new Error('MESSAGE_TOO_LARGE'), { retriable: false });
          },
        },
      );
      driver
        .inputTopic('in')
        .pipeRecords([
          { key: 'small', value: '{bad', headers: { 'event-type': 'x' } },
          { key: 'big', value: '{bad', headers: { 'event-type': 'x' } },
          { value: '{bad' },
        ]);
      await driver.settle();
      // each dead letter is stored when its last form was accepted: order them by the original offset
      const [minimal, keyless, plain] = driver
        .deadLetterTopic()
        .readDeadLetters()
        .sort((a, b) => Number(a.originalOffset) - Number(b.originalOffset));
      expect(minimal).toMatchObject({ key: 'small', value: null, originalOffset: 0n, stage: 'parseJson' });
      expect(minimal?.keyOmitted).toBeUndefined();
      expect(minimal?.headersOmitted).toMatch(/dead-letter topic refused the record even without its value/);
      expect(minimal?.valueOmitted).toBe(minimal?.headersOmitted);
      expect(keyless).toMatchObject({ key: null, value: null, originalOffset: 1n, stage: 'parseJson' });
      expect(keyless?.headersOmitted).toMatch(/^dead-letter topic refused .*: MESSAGE_TOO_LARGE$/);
      expect(keyless?.keyOmitted).toMatch(/dead-letter topic refused even the minimal record with its key/);
      // accepted without its value only: the original headers are there, and nothing says they were left out
      expect(plain).toMatchObject({ value: null, originalOffset: 2n });
      expect(plain?.valueOmitted).toMatch(/dead-letter topic refused the value/);
      expect(plain?.headersOmitted).toBeUndefined();
      expect(plain?.keyOmitted).toBeUndefined();
      expect(driver.committable('in')).toEqual(new Map([[0, 3n]]));
    });
  });

  describe('crashes and restarts', () => {
    const crashingOnce = () => {
      let thrown = false;
      return (r: Observable<Envelope<RawValue>>) =>
        r.pipe(
          parseJson<number>(),
          map((e) => {
            if (e.ok && e.value === 3 && !thrown) {
              thrown = true;
              throw new Error('bug in user code');
            }
            return e;
          }),
          publish('out'),
        );
    };

    it('throws TRIBUTARY_ERR_PIPELINE_CRASHED; restart() re-reads from the committed offsets (at-least-once)', async () => {
      const driver = driverFor(crashingOnce());
      const input = driver.inputTopic('in');
      input.pipeValues([1, 2]);
      await driver.settle();
      driver.committedOffsets(); // the engine's commit loop ran: 2 is committed
      input.pipeValues([3]);
      await expect(driver.settle()).rejects.toThrow(/crashed: bug in user code/);
      expect(driver.crashes).toHaveLength(1);
      expect(() => input.pipeValues([4])).not.toThrow(); // reported once
      await driver.settle();
      expect(driver.unfinished().map((u) => `${u.offset}:${u.state}`)).toEqual(['2:waiting', '3:waiting']); // in its backoff
      expect(driver.outputTopic('out').readValues()).toEqual([1, 2]);
      await driver.restart(); // without waiting for the backoff
      expect(driver.outputTopic('out').readValues()).toEqual([3, 4]);
      expect(driver.committable('in')).toEqual(new Map([[0, 4n]]));
    });

    it("with onCrash: 'restart' restarts by itself, delivering again what was not committed", async () => {
      const driver = driverFor(crashingOnce(), {}, { onCrash: 'restart' });
      driver.inputTopic('in').pipeValues([1, 2, 3, 4]);
      await driver.settle();
      expect(driver.outputTopic('out').readValues()).toEqual([1, 2]);
      await driver.advanceTime(500); // the engine's first crash backoff
      // 1 and 2 were published but not committed before the crash: delivered again after the restart
      expect(driver.outputTopic('out').readValues()).toEqual([1, 2, 3, 4]);
      expect(driver.crashes.map((c) => c.pipeline)).toEqual(['under-test']);
      expect(driver.logs.some((l) => l.level === 'error' && l.code === 'TRIBUTARY_ERR_PIPELINE_CRASHED')).toBe(true);
    });

    it('a chain that completes stops its pipeline for good, as in the engine', async () => {
      const driver = driverFor(() => EMPTY);
      driver.inputTopic('in').pipeValues([1]);
      await driver.flush();
      expect(driver.crashes).toEqual([]);
      expect(driver.instances()).toEqual([]);
      expect(driver.logs.some((l) => l.level === 'warn' && /operator chain completed/.test(String(l.msg)))).toBe(true);
      expect(driver.unfinished().map((u) => `${u.offset}:${u.state}`)).toEqual(['0:waiting']);
    });
  });

  describe('several pipelines', () => {
    it('chains pipelines through shared topics, each with its own group, offsets and dead letters', async () => {
      const first = definePipeline({
        name: 'first',
        source: { topics: ['a'], groupId: 'g1' },
        deadLetter: { topic: 'dlq' },
        build: (r) =>
          r.pipe(
            parseJson<number>(),
            mapValue((n) => n + 1),
            publish('b'),
          ),
      });
      const second = definePipeline({
        name: 'second',
        source: { topics: ['b'], groupId: 'g2' },
        deadLetter: { topic: 'dlq' },
        build: (r) =>
          r.pipe(
            parseJson<number>(),
            map(
              (e): Element<number> =>
                e.ok && e.value > 10
                  ? failed(e, 'tooBig', new TributaryError('TRIBUTARY_ERR_VALIDATION', 'too big'))
                  : e,
            ),
            publish('c'),
          ),
      });
      const driver = createTestDriver([first, second]);
      drivers.push(driver);
      driver.inputTopic('a').pipeValues([1, 10, 'x']);
      await driver.settle();
      expect(driver.outputTopic('c').readValues()).toEqual([2]);
      const dead = driver.deadLetterTopic().readDeadLetters();
      expect(dead.map((d) => [d.pipeline, d.stage, d.value])).toEqual([
        ['first', 'parseJson', 'x'],
        ['second', 'tooBig', '11'],
      ]);
      expect(driver.committedOffsets().map((c) => `${c.groupId} ${c.topic} ${c.offset}`)).toEqual(['g1 a 3', 'g2 b 2']);
      expect(driver.outcomes({ pipeline: 'second' }).map((o) => o.outcome)).toEqual(['published', 'dead_lettered']);
      expect(() => createTestDriver([first, first])).toThrow(/two pipelines are named "first"/);
    });
  });

  describe('lifecycle and types', () => {
    it('close() stops the pipelines and cancels timers; the driver cannot be used afterwards', async () => {
      const driver = createTestDriver(({ scheduler }) =>
        pipeline((r) => r.pipe(retryWithBackoff(() => Promise.reject(new Error('x')), { scheduler }))),
      );
      driver.inputTopic('in').pipeValues(['x']);
      await driver.settle();
      // the retry's wait, the engine's commit loop and its watchdog
      expect(driver.scheduler.pendingTimers).toBe(3);
      await driver.close();
      expect(driver.scheduler.pendingTimers).toBe(0);
      expect(() => driver.inputTopic('in')).toThrow(/closed/);
      await expect(driver.settle()).rejects.toThrow(/closed/);
      await driver.close();
    });

    it('rejects what is not a pipeline', () => {
      expect(() => createTestDriver([])).toThrow(/no pipeline/);
      expect(() => createTestDriver({} as never)).toThrow(/definePipeline/);
    });

    it('types outputs by overload', () => {
      const driver = driverFor((r) => r);
      expectTypeOf(driver.outputTopic('x').readValue).returns.toEqualTypeOf<unknown>();
      expectTypeOf(driver.outputTopic<{ a: number }>('x').readValues).returns.toEqualTypeOf<{ a: number }[]>();
      expectTypeOf(driver.outputTopic('x', { decode: 'string' }).readValue).returns.toEqualTypeOf<string | null>();
      expectTypeOf(driver.outputTopic('x', { decode: 'bytes' }).readValue).returns.toEqualTypeOf<Buffer | null>();
      expectTypeOf(driver.deadLetterTopic().readDeadLetters).returns.items.toHaveProperty('originalOffset');
      expectTypeOf(driver.deadLetterTopic().readValue).returns.toEqualTypeOf<string | null>();
    });
  });
});
