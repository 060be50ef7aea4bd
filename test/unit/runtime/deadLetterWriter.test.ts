import { describe, expect, it } from 'vitest';
import type { FailedEnvelope } from '../../../src/envelope.js';
import { failed } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { readIntegerHeader, readTextHeader } from '../../../src/kafka/headers.js';
import type { OutgoingRecord } from '../../../src/kafka/ports.js';
import { DEAD_LETTER_HEADERS } from '../../../src/runtime/deadLetterRecord.js';
import { type DeadLetterWriterDeps, writeDeadLetter } from '../../../src/runtime/deadLetterWriter.js';
import { captureLogger, type RecordingTicket, rawEnvelope } from '../../support/envelopes.js';

/** kafkajs' shape of a broker refusal (KafkaJSProtocolError): `type` is the protocol error name. */
const refusal = (type: string, message: string) => Object.assign(new Error(message), { type, retriable: false });
const tooLarge = () =>
  refusal(
    'MESSAGE_TOO_LARGE',
    'The request included a message larger than the max message size the server will accept',
  );

function failedRecord(options: { key?: string | null; partition?: number; offset?: bigint } = {}) {
  const envelope = rawEnvelope('{"broken":', {
    topic: 'orders',
    partition: options.partition ?? 2,
    offset: options.offset ?? 41n,
    key: options.key === undefined ? 'order-1' : options.key,
    headers: { 'correlation-id': 'c-1', big: Buffer.alloc(64, 1) },
    correlationId: 'c-1',
  });
  return failed(envelope, 'parseJson', new TributaryError('TRIBUTARY_ERR_PARSE', 'Unexpected end of JSON input'));
}

/** A writer whose `send` asks `refuse` about each record (an error to reject with, or undefined to accept); the run
 * "stops" after `runs` backoff waits, so a writer that never gives up still ends the test. */
function harness(refuse: (record: OutgoingRecord, attempt: number) => unknown, runs = 20) {
  const sent: OutgoingRecord[] = [];
  const accepted: OutgoingRecord[] = [];
  const sleeps: number[] = [];
  const { logger, lines } = captureLogger('debug');
  let attempt = 0;
  const deps: DeadLetterWriterDeps = {
    async send(record) {
      sent.push(record);
      const error = refuse(record, ++attempt);
      if (error !== undefined) throw error;
      accepted.push(record);
    },
    logger,
    async sleep(ms) {
      sleeps.push(ms);
    },
    running: () => sleeps.length < runs,
  };
  return { deps, sent, accepted, sleeps, lines };
}

const outcome = (f: FailedEnvelope) => (f.ticket as RecordingTicket).outcome;
const header = (r: OutgoingRecord | undefined, name: string) => readTextHeader(r?.headers?.[name]);

describe('writeDeadLetter: what the dead-letter topic refuses', () => {
  it('sends the full record when the topic accepts it', async () => {
    const f = failedRecord();
    const h = harness(() => undefined);
    await writeDeadLetter(f, 'orders.dlq', h.deps);
    expect(h.accepted).toHaveLength(1);
    expect(h.accepted[0]?.value).toEqual(Buffer.from('{"broken":'));
    expect(outcome(f)).toBe('dead_lettered');
  });

  it('full → without the value → minimal, each step only on a size refusal', async () => {
    const f = failedRecord();
    // accepts only a record without value and without the original headers
    const h = harness((r) => (r.value !== null || r.headers?.big !== undefined ? tooLarge() : undefined));
    await writeDeadLetter(f, 'orders.dlq', h.deps);
    expect(
      h.sent.map((r) => [
        r.value === null ? 'no value' : 'value',
        r.headers?.big === undefined ? 'minimal' : 'headers',
      ]),
    ).toEqual([
      ['value', 'headers'],
      ['no value', 'headers'],
      ['no value', 'minimal'],
    ]);
    const minimal = h.accepted[0];
    expect(minimal?.key).toEqual(Buffer.from('order-1'));
    expect(header(minimal, DEAD_LETTER_HEADERS.originalTopic)).toBe('orders');
    expect(readIntegerHeader(minimal?.headers?.[DEAD_LETTER_HEADERS.originalPartition])).toBe(2n);
    expect(readIntegerHeader(minimal?.headers?.[DEAD_LETTER_HEADERS.originalOffset])).toBe(41n);
    expect(header(minimal, DEAD_LETTER_HEADERS.originalConsumerGroup)).toBe('test-group');
    expect(header(minimal, DEAD_LETTER_HEADERS.errorCode)).toBe('TRIBUTARY_ERR_PARSE');
    expect(header(minimal, DEAD_LETTER_HEADERS.exceptionMessage)).toBe('Unexpected end of JSON input');
    expect(header(minimal, DEAD_LETTER_HEADERS.stage)).toBe('parseJson');
    expect(header(minimal, DEAD_LETTER_HEADERS.pipeline)).toBe('test-pipeline');
    expect(header(minimal, DEAD_LETTER_HEADERS.headersOmitted)).toMatch(/MESSAGE_TOO_LARGE/);
    expect(h.sleeps).toEqual([]); // a smaller form is tried at once
    expect(outcome(f)).toBe('dead_lettered');
  });

  it('drops the key too when the minimal record with its key is refused for its size', async () => {
    const f = failedRecord({ key: 'k'.repeat(2000) });
    const h = harness((r) => (r.key !== null ? tooLarge() : undefined));
    await writeDeadLetter(f, 'orders.dlq', h.deps);
    expect(h.sent).toHaveLength(4);
    expect(h.accepted[0]?.key).toBeNull();
    expect(header(h.accepted[0], DEAD_LETTER_HEADERS.keyOmitted)).toMatch(/MESSAGE_TOO_LARGE/);
    expect(outcome(f)).toBe('dead_lettered');
  });

  it('treats RECORD_LIST_TOO_LARGE as a size refusal too', async () => {
    const f = failedRecord();
    const h = harness((r) => (r.value !== null ? refusal('RECORD_LIST_TOO_LARGE', 'batch too large') : undefined));
    await writeDeadLetter(f, 'orders.dlq', h.deps);
    expect(h.accepted[0]?.value).toBeNull();
    expect(h.accepted[0]?.headers?.big).toBeDefined(); // without the value was enough
  });

  it.each([
    ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'The broker received an out of order sequence number'],
    ['INVALID_RECORD', 'This record has failed the validation on broker and hence be rejected'],
    ['TOPIC_AUTHORIZATION_FAILED', 'Not authorized to access topics: [Topic authorization failed]'],
  ])(
    'keeps the value on a %s refusal: logs why with the coordinates and retries with backoff',
    async (type, message) => {
      const f = failedRecord();
      const h = harness((_r, attempt) => (attempt <= 3 ? refusal(type, message) : undefined));
      await writeDeadLetter(f, 'orders.dlq', h.deps);
      expect(h.sent.every((r) => r.value !== null && r.headers?.big !== undefined)).toBe(true);
      expect(h.accepted[0]?.value).toEqual(Buffer.from('{"broken":'));
      expect(h.sleeps).toEqual([100, 200, 400]);
      const refused = h.lines.filter((l) => l.level === 50);
      expect(refused).toHaveLength(3);
      expect(refused[0]).toMatchObject({ topic: 'orders', partition: 2, offset: '41', deadLetterTopic: 'orders.dlq' });
      expect(String(refused[0]?.msg)).toContain(message);
      expect(String(refused[0]?.msg)).toMatch(/not a size error/);
      expect(outcome(f)).toBe('dead_lettered');
    },
  );

  it('gives up, leaving the record unfinished, only when the pipeline run stops', async () => {
    const f = failedRecord();
    const h = harness(() => tooLarge(), 3);
    await writeDeadLetter(f, 'orders.dlq', h.deps);
    expect(outcome(f)).toBeUndefined();
    expect(h.sleeps).toEqual([100, 200, 400]);
    expect(h.lines.at(-1)?.msg).toMatch(/abandoned: pipeline stopped/);
  });

  it('never rejects: an origin no header can hold still yields a dead letter', async () => {
    const f = failedRecord({ partition: 3_000_000_000, offset: 2n ** 64n });
    const h = harness(() => undefined);
    await expect(writeDeadLetter(f, 'orders.dlq', h.deps)).resolves.toBeUndefined();
    expect(h.accepted).toHaveLength(1);
    expect(header(h.accepted[0], DEAD_LETTER_HEADERS.originalTopic)).toBe('orders');
    expect(outcome(f)).toBe('dead_lettered');
  });

  it('never rejects when its dependencies throw', async () => {
    const f = failedRecord();
    const h = harness(() => new Error('down'));
    h.deps.sleep = () => Promise.reject(new Error('timer gone'));
    await expect(writeDeadLetter(f, 'orders.dlq', h.deps)).resolves.toBeUndefined();
    expect(outcome(f)).toBeUndefined();
  });
});
