import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../../src/errors.js';
import { noopObserver } from '../../../src/instrumentation.js';
import { type OutgoingRecord, type ProducerPort, UnwrittenRecordsError } from '../../../src/kafka/ports.js';
import { ProducerBatcher } from '../../../src/runtime/producerBatcher.js';
import { captureLogger } from '../../support/envelopes.js';

/** A producer port that records requests and fails them as told (unit level; the broker tests use Kafka). */
class RecordingPort implements ProducerPort {
  requests: string[][] = [];
  failNext: unknown[] = [];
  refuse = new Set<string>();
  resets = 0;
  async connect() {}
  async reset() {
    this.resets++;
    this.requests.push(['<reset>']);
  }
  async disconnect() {}
  async send(records: readonly OutgoingRecord[]) {
    await new Promise((done) => setTimeout(done, 2));
    this.requests.push(records.map((r) => String(r.value)));
    const failure = this.failNext.shift();
    if (failure) throw failure;
    const refused = records.find((r) => this.refuse.has(String(r.value)));
    if (refused) throw new TributaryError('TRIBUTARY_ERR_PUBLISH', `too large: ${refused.value}`, { retriable: false });
  }
}

const logger = pino({ level: 'silent' });
const record = (value: string, topic = 'out') => ({ topic, key: null, value });
const transient = () => Object.assign(new Error('connection lost'), { name: 'KafkaJSNumberOfRetriesExceeded' });
const unknownTopic = () =>
  Object.assign(new Error('This server does not host this topic-partition'), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    retriable: false,
    cause: Object.assign(new Error('This server does not host this topic-partition'), {
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
      retriable: true,
    }),
  });

describe('ProducerBatcher', () => {
  it('sends records queued in the same tick in one request, and queues behind an in-flight request', async () => {
    const port = new RecordingPort();
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger });
    const first = ['a', 'b', 'c'].map((v) => batcher.send(record(v)));
    await new Promise((done) => setImmediate(done));
    const second = ['d', 'e'].map((v) => batcher.send(record(v))); // while the first request is in flight
    await Promise.all([...first, ...second]);
    expect(port.requests).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it('enqueue calls back once per record: without an error when acknowledged, with it when refused', async () => {
    const port = new RecordingPort();
    port.refuse.add('poison');
    const { logger: capturing, lines } = captureLogger('error');
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger: capturing });
    const calls: [string, string | undefined][] = [];
    const settled = new Promise<void>((done) => {
      const note = (value: string) => (error?: unknown) => {
        calls.push([value, error === undefined ? undefined : (error as Error).message]);
        if (calls.length === 3) done();
      };
      batcher.enqueue(record('a'), note('a'));
      batcher.enqueue(record('poison'), note('poison'));
      // a callback that throws is logged; the others of its batch still settle
      batcher.enqueue(record('b'), (error) => {
        note('b')(error);
        throw new Error('bug in a callback');
      });
    });
    await settled;
    expect(calls).toEqual([
      ['a', undefined],
      ['poison', 'too large: poison'],
      ['b', undefined],
    ]);
    expect(lines.map((l) => l.msg)).toContain('a send callback threw');
    batcher.close();
    const afterClose = await new Promise<unknown>((done) => batcher.enqueue(record('late'), done));
    expect(afterClose).toBeInstanceOf(TributaryError);
  });

  it('never reports a failure thrown as undefined as an acknowledgement', async () => {
    const port = new RecordingPort();
    let batcher: ProducerBatcher | undefined;
    port.send = async () => {
      batcher?.close(); // closed while the request is in flight; then the client throws nothing useful
      throw undefined;
    };
    batcher = new ProducerBatcher(port, { observer: noopObserver, logger });
    const outcome = await new Promise<unknown>((done) => batcher?.enqueue(record('x'), done));
    expect(outcome).toBeInstanceOf(TributaryError);
  });

  it('re-sends a transiently failed batch ahead of later records, keeping order', async () => {
    const port = new RecordingPort();
    port.failNext.push(Object.assign(new Error('connection lost'), { name: 'KafkaJSNumberOfRetriesExceeded' }));
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger });
    const sends = ['a', 'b'].map((v) => batcher.send(record(v)));
    await new Promise((done) => setImmediate(done)); // the flush took [a, b]: 'c' queues behind the request in flight
    sends.push(batcher.send(record('c')));
    await Promise.all(sends);
    expect(port.requests.flat().join('')).toBe('abab' + 'c');
  });

  it('isolates a record the broker refuses for good; the rest of its batch is delivered', async () => {
    const port = new RecordingPort();
    port.refuse.add('poison');
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger });
    const results = await Promise.allSettled(['a', 'poison', 'b'].map((v) => batcher.send(record(v))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // a partly written request leaves kafkajs' sequence numbers rolled back: a new session before each split
    expect(port.requests).toEqual([
      ['a', 'poison', 'b'],
      ['<reset>'],
      ['a', 'poison'],
      ['<reset>'],
      ['a'],
      ['poison'],
      ['b'],
    ]);
    expect(port.resets).toBe(2);
  });

  it('caps a request by bytes; a record over the cap goes alone', async () => {
    const port = new RecordingPort();
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger, maxBatchBytes: 100 });
    const big = 'B'.repeat(300);
    await Promise.all(['a'.repeat(20), 'b'.repeat(20), 'c'.repeat(20), big, 'd'].map((v) => batcher.send(record(v))));
    expect(port.requests.map((r) => r.map((v) => v[0]).join(''))).toEqual(['ab', 'c', 'B', 'd']);
  });

  it('one topic failing does not hold another; its failed batch stays ahead of its later records', async () => {
    const port = new RecordingPort();
    const failing = new Set(['x1', 'x2']);
    let failures = 0;
    const send = port.send.bind(port);
    port.send = async (records) => {
      if (records.some((r) => failing.has(String(r.value))) && failures++ < 3) {
        port.requests.push(records.map((r) => String(r.value)));
        throw transient();
      }
      await send(records);
    };
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger });
    const acked: string[] = [];
    const note = (v: string) => () => acked.push(v);
    batcher.enqueue(record('x1', 'x'), note('x1'));
    batcher.enqueue(record('x2', 'x'), note('x2'));
    batcher.enqueue(record('y1', 'y'), note('y1'));
    await new Promise((done) => setTimeout(done, 20));
    batcher.enqueue(record('x3', 'x'), note('x3'));
    batcher.enqueue(record('y2', 'y'), note('y2'));
    await batcher.idle();
    // y flowed while x was retried; x's failed batch went out again, as it was, before x3
    expect(acked.indexOf('y2')).toBeLessThan(acked.indexOf('x1'));
    expect(acked.filter((v) => v.startsWith('x'))).toEqual(['x1', 'x2', 'x3']);
    const xRequests = port.requests.filter((r) => r.some((v) => v.startsWith('x')));
    expect(xRequests).toEqual([['x1', 'x2'], ['x1', 'x2'], ['x1', 'x2'], ['x1', 'x2'], ['x3']]);
  });

  it('a topic that does not exist: its records fail at once, the other topics are acked', async () => {
    const port = new RecordingPort();
    const send = port.send.bind(port);
    port.send = async (records) => {
      if (records.some((r) => r.topic === 'missing')) {
        port.requests.push(records.map((r) => String(r.value)));
        throw unknownTopic();
      }
      await send(records);
    };
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger });
    const results = await Promise.allSettled([
      batcher.send(record('m1', 'missing')),
      batcher.send(record('m2', 'missing')),
      batcher.send(record('a')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    // one attempt for the missing topic: no bisecting, no reset
    expect(port.requests).toContainEqual(['m1', 'm2']);
    expect(port.requests.filter((r) => r.includes('m1'))).toHaveLength(1);
    expect(port.resets).toBe(0);
  });

  it('gives a batch up after maxRetryMs while other requests get through, then starts a new session', async () => {
    const port = new RecordingPort();
    const send = port.send.bind(port);
    port.send = async (records) => {
      if (records.some((r) => r.topic === 'stuck')) {
        await new Promise((done) => setTimeout(done, 2));
        throw transient();
      }
      await send(records);
    };
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger, maxRetryMs: 150 });
    const stuck = batcher.send(record('s', 'stuck'));
    const flowing = (async () => {
      for (let i = 0; i < 10; i++) {
        await batcher.send(record(`a${i}`));
        await new Promise((done) => setTimeout(done, 30));
      }
    })();
    await expect(stuck).rejects.toThrow(/gave up after 150 ms: connection lost/);
    await flowing;
    expect(port.resets).toBe(1);
  });

  it('never gives up while nothing gets through (the broker is down)', async () => {
    const port = new RecordingPort();
    let down = true;
    const send = port.send.bind(port);
    port.send = async (records) => {
      if (down) throw transient();
      await send(records);
    };
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger, maxRetryMs: 50 });
    const sent = batcher.send(record('a'));
    await new Promise((done) => setTimeout(done, 400));
    down = false;
    await expect(sent).resolves.toBeUndefined();
  });

  it('fails the records of a partition the topic does not have; the rest of the request is acked', async () => {
    const port = new RecordingPort();
    port.send = async (records) => {
      const missing = records.flatMap((r, i) => (r.partition === 9 ? [i] : []));
      if (missing.length > 0) throw new UnwrittenRecordsError(missing, 'no partition 9');
    };
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger });
    const results = await Promise.allSettled([
      batcher.send({ ...record('a'), partition: 0 }),
      batcher.send({ ...record('b'), partition: 9 }),
      batcher.send({ ...record('c'), partition: -1 }),
      batcher.send({ ...record('d'), partition: 0.5 }),
      batcher.send(record('e')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/no partition 9/);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/partition -1 is not a partition number/);
  });

  it('rejects queued and later records once closed', async () => {
    const port = new RecordingPort();
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger });
    batcher.close();
    await expect(batcher.send(record('late'))).rejects.toThrow(/closed/);
    await batcher.idle();
  });
});
