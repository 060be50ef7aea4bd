/** ProducerBatcher's waits — the re-send backoff after a transient failure, the session reset retries — are on its clock. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../../src/errors.js';
import { noopObserver } from '../../../src/instrumentation.js';
import type { OutgoingRecord, ProducerPort } from '../../../src/kafka/ports.js';
import { ProducerBatcher } from '../../../src/runtime/producerBatcher.js';
import { ManualClock, settle } from '../../support/manualClock.js';

/** A port that answers at once (no timers of its own) and fails as told. */
class ScriptedPort implements ProducerPort {
  readonly requests: string[][] = [];
  readonly failNext: unknown[] = [];
  failResets = 0;
  resets = 0;
  async connect() {}
  async disconnect() {}
  async reset() {
    this.resets++;
    if (this.failResets-- > 0) throw new Error('reset failed');
  }
  async send(records: readonly OutgoingRecord[]) {
    this.requests.push(records.map((r) => String(r.value)));
    const failure = this.failNext.shift();
    if (failure) throw failure;
    if (records.some((r) => r.value === 'poison')) {
      throw new TributaryError('TRIBUTARY_ERR_PUBLISH', 'INVALID_RECORD', { retriable: false });
    }
  }
}

const logger = pino({ level: 'silent' });
const record = (value: string) => ({ topic: 'out', key: null, value });
const transient = () => Object.assign(new Error('connection lost'), { name: 'KafkaJSNumberOfRetriesExceeded' });

describe('ProducerBatcher on a manual clock', () => {
  it('sends a transiently failed batch again only after its backoff (100 ms) of clock time', async () => {
    const clock = new ManualClock(1000);
    const port = new ScriptedPort();
    port.failNext.push(transient());
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger, clock });
    let acknowledged = false;
    batcher.enqueue(record('a'), (error) => {
      acknowledged = error === undefined;
    });
    await settle();
    await settle();
    expect(port.requests).toEqual([['a']]);
    await new Promise((done) => setTimeout(done, 150)); // real time sends nothing again
    await settle();
    expect(port.requests).toEqual([['a']]);
    await clock.advance(99);
    expect(port.requests).toEqual([['a']]);
    await clock.advance(1);
    await settle();
    expect(port.requests).toEqual([['a'], ['a']]);
    expect(acknowledged).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('retries a failed session reset after 100 ms of clock time', async () => {
    const clock = new ManualClock();
    const port = new ScriptedPort();
    port.failResets = 1;
    const batcher = new ProducerBatcher(port, { observer: noopObserver, logger, clock });
    const outcomes: string[] = [];
    for (const value of ['a', 'poison']) {
      batcher.enqueue(record(value), (error) => outcomes.push(`${value}: ${error === undefined ? 'ok' : 'failed'}`));
    }
    await settle();
    await settle();
    expect(port.resets).toBe(1); // refused in a request of two: a new session first, which failed
    await clock.advance(99);
    expect(port.resets).toBe(1);
    await clock.advance(1);
    for (let i = 0; i < 5; i++) await settle();
    expect(port.resets).toBe(2);
    expect(port.requests).toEqual([['a', 'poison'], ['a'], ['poison']]);
    expect(outcomes.sort()).toEqual(['a: ok', 'poison: failed']);
  });
});
