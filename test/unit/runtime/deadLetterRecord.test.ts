import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { FailedEnvelope } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { readIntegerHeader, readTextHeader } from '../../../src/kafka/headers.js';
import {
  buildDeadLetterRecord,
  buildMinimalDeadLetterRecord,
  DEAD_LETTER_HEADERS,
} from '../../../src/runtime/deadLetterRecord.js';

function failedRecord(): FailedEnvelope {
  const raw = Buffer.from('{"broken":');
  return {
    ok: false,
    stage: 'parseJson',
    error: new TributaryError('TRIBUTARY_ERR_PARSE', 'Unexpected end of JSON input', { cause: new SyntaxError('x') }),
    attempts: 0,
    ticket: { finished: false, settled: undefined, abandoned: false, finish: () => {}, settle: () => {} },
    context: {
      pipeline: 'orders',
      groupId: 'orders-group',
      deadLetterTopic: 'orders.dlq',
      logger: pino({ level: 'silent' }),
      send: async () => {},
      enqueue: (_record, done) => done(),
      deadLetter: async () => {},
      recordRetry: () => {},
    },
    origin: {
      pipeline: 'orders',
      groupId: 'orders-group',
      topic: 'orders',
      partition: 4,
      offset: 9_007_199_254_740_993n, // beyond Number.MAX_SAFE_INTEGER: must survive as int64
      key: Buffer.from('order-1'),
      headers: { 'correlation-id': 'c-1', 'event-type': Buffer.from('created') },
      timestamp: '1700000000123',
      raw,
      correlationId: 'c-1',
      lane: 'orders/4',
    },
  };
}

describe('dead-letter record', () => {
  it('keeps the original bytes, key and headers and adds Spring-encoded kafka_dlt-* and tributary-* headers', () => {
    const dl = buildDeadLetterRecord(failedRecord(), 'orders.dlq');
    expect(dl.topic).toBe('orders.dlq');
    expect(dl.value).toEqual(Buffer.from('{"broken":'));
    expect(dl.key).toEqual(Buffer.from('order-1'));
    const h = dl.headers ?? {};
    expect(readTextHeader(h['correlation-id'])).toBe('c-1');
    expect(readTextHeader(h['event-type'])).toBe('created');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.originalTopic])).toBe('orders');
    // Spring: partition is a 4-byte int, offset and timestamp 8-byte longs, big-endian
    expect(h[DEAD_LETTER_HEADERS.originalPartition]).toEqual(Buffer.from([0, 0, 0, 4]));
    expect((h[DEAD_LETTER_HEADERS.originalOffset] as Buffer).length).toBe(8);
    expect(readIntegerHeader(h[DEAD_LETTER_HEADERS.originalOffset])).toBe(9_007_199_254_740_993n);
    expect(readIntegerHeader(h[DEAD_LETTER_HEADERS.originalTimestamp])).toBe(1_700_000_000_123n);
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.originalConsumerGroup])).toBe('orders-group');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.exceptionFqcn])).toBe('TributaryError.TRIBUTARY_ERR_PARSE');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.exceptionCauseFqcn])).toBe('SyntaxError');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.exceptionMessage])).toBe('Unexpected end of JSON input');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.pipeline])).toBe('orders');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.stage])).toBe('parseJson');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.attempts])).toBe('0');
  });

  it('can omit a value the dead-letter topic refuses, saying why', () => {
    const dl = buildDeadLetterRecord(failedRecord(), 'orders.dlq', { omitValue: 'too large' });
    expect(dl.value).toBeNull();
    expect(readTextHeader(dl.headers?.[DEAD_LETTER_HEADERS.valueOmitted])).toBe('too large');
  });

  it('cuts a long exception message to 4 KiB on a character boundary, never leaving half a character', () => {
    const f = failedRecord();
    for (const message of [`a${'😀'.repeat(2000)}`, `ab${'😀'.repeat(2000)}`, `é${'€'.repeat(3000)}`]) {
      const dl = buildDeadLetterRecord({ ...f, error: new TributaryError('TRIBUTARY_ERR_PROCESSING', message) }, 't');
      const text = readTextHeader(dl.headers?.[DEAD_LETTER_HEADERS.exceptionMessage]) ?? '';
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
      expect(Buffer.byteLength(text)).toBeGreaterThan(4090);
      expect(text).not.toContain('\uFFFD');
      expect(text.endsWith('…')).toBe(true);
    }
  });

  it('reads integer headers written as decimal text too', () => {
    expect(readIntegerHeader('42')).toBe(42n);
    expect(readIntegerHeader(Buffer.from('42'))).toBe(42n);
    expect(readIntegerHeader('x')).toBeUndefined();
  });
});

describe('minimal dead-letter record', () => {
  it('keeps the coordinates, the error, pipeline, stage and group; no value, no original headers; a few hundred bytes', () => {
    const f = failedRecord();
    const dl = buildMinimalDeadLetterRecord(f, 'orders.dlq', { reason: 'too large' });
    expect(dl.value).toBeNull();
    expect(dl.key).toEqual(Buffer.from('order-1'));
    const h = dl.headers ?? {};
    expect(h['event-type']).toBeUndefined();
    expect(readTextHeader(h['correlation-id'])).toBe('c-1');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.originalTopic])).toBe('orders');
    expect(h[DEAD_LETTER_HEADERS.originalPartition]).toEqual(Buffer.from([0, 0, 0, 4]));
    expect(readIntegerHeader(h[DEAD_LETTER_HEADERS.originalOffset])).toBe(9_007_199_254_740_993n);
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.originalConsumerGroup])).toBe('orders-group');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.errorCode])).toBe('TRIBUTARY_ERR_PARSE');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.stage])).toBe('parseJson');
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.headersOmitted])).toBe('too large');
    const bytes = Object.entries(h).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v as Buffer | string), 0);
    expect(bytes).toBeLessThan(1024);
    const keyless = buildMinimalDeadLetterRecord(f, 'orders.dlq', { reason: 'too large', omitKey: 'key too large' });
    expect(keyless.key).toBeNull();
    expect(readTextHeader(keyless.headers?.[DEAD_LETTER_HEADERS.keyOmitted])).toBe('key too large');
  });

  it('cuts a long error message to 1 KiB and leaves out coordinates no Spring header can hold', () => {
    const f = failedRecord();
    const long: FailedEnvelope = {
      ...f,
      error: new TributaryError('TRIBUTARY_ERR_PARSE', 'x'.repeat(100_000)),
      origin: { ...f.origin, partition: 3_000_000_000, timestamp: 'not a number' },
    };
    const dl = buildMinimalDeadLetterRecord(long, 'orders.dlq', { reason: 'too large' });
    const h = dl.headers ?? {};
    expect(Buffer.byteLength(readTextHeader(h[DEAD_LETTER_HEADERS.exceptionMessage]) ?? '')).toBeLessThanOrEqual(1024);
    expect(h[DEAD_LETTER_HEADERS.originalPartition]).toBeUndefined();
    expect(h[DEAD_LETTER_HEADERS.originalTimestamp]).toBeUndefined();
    expect(readTextHeader(h[DEAD_LETTER_HEADERS.originalTopic])).toBe('orders');
    expect(() => buildDeadLetterRecord(long, 'orders.dlq')).not.toThrow();
  });
});
