import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../../src/errors.js';
import { noopObserver } from '../../../src/instrumentation.js';
import type { OutgoingMessage, ProducerPort } from '../../../src/kafka/ports.js';
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
  async send(records: readonly OutgoingMessage[]) {
    await new Promise((done) => setTimeout(done, 2));
    this.requests.push(records.map((r) => String(r.value)));
    const failure = this.failNext.shift();
    if (failure) throw failure;
    const refused = records.find((r) => this.refuse.has(String(r.value)));
    if (refused) throw new TributaryError('TRIBUTARY_ERR_PUBLISH', `too large: ${refused.value}`, { retriable: false });
  }
}

const logger = pino({ level: 'silent' });
const record = (value: string) => ({ topic: 'out', key: null, value });

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
    // a partly written request leaves kafkajs' sequence numbers rolled back: a new session comes first
    expect(port.requests).toEqual([['a', 'poison', 'b'], ['<reset>'], ['a'], ['poison'], ['b']]);
    expect(port.resets).toBe(1);
  });

  it('caps a request by bytes; a record over the cap goes alone', async () => {
    const port = new RecordingPort();
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger, maxBatchBytes: 100 });
    const big = 'B'.repeat(300);
    await Promise.all(['a'.repeat(20), 'b'.repeat(20), 'c'.repeat(20), big, 'd'].map((v) => batcher.send(record(v))));
    expect(port.requests.map((r) => r.map((v) => v[0]).join(''))).toEqual(['ab', 'c', 'B', 'd']);
  });

  it('rejects queued and later records once closed', async () => {
    const port = new RecordingPort();
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger });
    batcher.close();
    await expect(batcher.send(record('late'))).rejects.toThrow(/closed/);
    await batcher.idle();
  });
});
