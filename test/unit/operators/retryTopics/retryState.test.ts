import { describe, expect, it } from 'vitest';
import { awaitRetryDue } from '../../../../operators/awaitRetryDue.js';
import { RETRY_HEADERS, readRetryState } from '../../../../operators/retryTopics/topics.js';
import type { RecordHeaders } from '../../../../src/kafka/ports.js';
import { captureLogger, runOperator, testContext, testEnvelope } from '../../../support/envelopes.js';

/** A record of `orders.retry.1s` partition 1 at offset 77 whose origin headers are `origin` (round 1). */
function delayRecord(origin: RecordHeaders) {
  return testEnvelope<null>(null, {
    topic: 'orders.retry.1s',
    partition: 1,
    offset: 77,
    timestamp: '1700000000999',
    headers: { [RETRY_HEADERS.attempt]: '1', [RETRY_HEADERS.originalTopic]: 'orders', ...origin },
  });
}

const int64 = (value: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(value);
  return b;
};

const offset42 = { [RETRY_HEADERS.springOriginalOffset]: '42' };
const partition3 = { [RETRY_HEADERS.springOriginalPartition]: Buffer.from([0, 0, 0, 3]) };

describe('readRetryState: the kafka_original-* headers', () => {
  it('reads in-range coordinates, binary (Spring) or decimal text', () => {
    const state = readRetryState(
      delayRecord({
        [RETRY_HEADERS.springOriginalPartition]: Buffer.from([0, 0, 0, 3]),
        [RETRY_HEADERS.springOriginalOffset]: '42',
        [RETRY_HEADERS.springOriginalTimestamp]: int64(1_700_000_000_123n),
      }),
    );
    expect(state).toMatchObject({
      round: 1,
      originalTopic: 'orders',
      originalPartition: 3,
      originalOffset: 42n,
      originalTimestamp: '1700000000123',
    });
  });

  it.each([
    ['a partition beyond int32', { [RETRY_HEADERS.springOriginalPartition]: '3000000000', ...offset42 }],
    ['a negative partition', { [RETRY_HEADERS.springOriginalPartition]: '-1', ...offset42 }],
    ['an offset beyond int64', { [RETRY_HEADERS.springOriginalOffset]: '9223372036854775808', ...partition3 }],
    ['a negative offset', { [RETRY_HEADERS.springOriginalOffset]: int64(-5n), ...partition3 }],
    ['a timestamp beyond int64', { [RETRY_HEADERS.springOriginalTimestamp]: '99999999999999999999999' }],
    ['a timestamp below int64', { [RETRY_HEADERS.springOriginalTimestamp]: '-9223372036854775809' }],
  ])('falls back to the delay-topic record coordinates on %s', (_what, origin: RecordHeaders) => {
    const state = readRetryState(delayRecord(origin));
    expect(state.round).toBe(1);
    // every coordinate of the state is usable as int32 / int64
    expect(state.originalPartition).toBeGreaterThanOrEqual(0);
    expect(state.originalPartition).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(state.originalOffset).toBeGreaterThanOrEqual(0n);
    expect(state.originalOffset).toBeLessThanOrEqual(2n ** 63n - 1n);
    const ts = BigInt(state.originalTimestamp);
    expect(ts).toBeGreaterThanOrEqual(-(2n ** 63n));
    expect(ts).toBeLessThanOrEqual(2n ** 63n - 1n);
    // the bad one is the delay-topic record's own; partition and offset only ever together (one real record)
    if (RETRY_HEADERS.springOriginalTimestamp in origin) expect(state.originalTimestamp).toBe('1700000000999');
    else {
      expect(state).toMatchObject({ originalPartition: 1, originalOffset: 77n });
    }
  });
});

describe('awaitRetryDue with out-of-range origin headers', () => {
  it('keeps the delay-topic coordinates (one real record) and warns, instead of restoring a bad origin', async () => {
    const { logger, lines } = captureLogger('warn');
    const record = testEnvelope<null>(null, {
      topic: 'orders.retry.1s',
      partition: 1,
      offset: 77,
      context: testContext({ logger }),
      headers: {
        [RETRY_HEADERS.attempt]: '1',
        [RETRY_HEADERS.due]: '0',
        [RETRY_HEADERS.originalTopic]: 'orders',
        [RETRY_HEADERS.springOriginalPartition]: '3000000000',
        [RETRY_HEADERS.springOriginalOffset]: '42',
      },
    });
    const [out] = await runOperator([record], awaitRetryDue());
    expect(out?.origin).toMatchObject({ topic: 'orders.retry.1s', partition: 1, offset: 77n });
    expect(String(lines[0]?.msg)).toMatch(/kafka_original-partition.*out of range/);
  });
});
