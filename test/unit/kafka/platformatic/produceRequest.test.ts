import { NumericMap, produceV11, Reader, readRecordsBatch } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { encodeProduceRequest, type ProduceMessage } from '../../../../src/kafka/platformatic/produceRequest.js';

const b = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Two copies of the same messages: each encoder writes timestamps back into the messages it gets. */
function twice(make: () => ProduceMessage[]): [ProduceMessage[], ProduceMessage[]] {
  return [make(), make()];
}

/** The bytes the client's own encoder writes for the same request. */
function clientBytes(acks: number, timeout: number, messages: ProduceMessage[], options: object): Buffer {
  return produceV11.createRequest(acks, timeout, messages as never, options as never).buffer;
}

describe('encodeProduceRequest', () => {
  it('writes the bytes of the client’s encoder: keys, values, headers, nulls, empties, topics, partitions', () => {
    const ts = 1_764_000_000_000n;
    const [ours, theirs] = twice(() => [
      { topic: 'orders', partition: 2, key: b('k1'), value: b('{"a":1}'), headers: new Map(), timestamp: ts },
      {
        topic: 'orders',
        partition: 0,
        key: undefined,
        value: b('x'.repeat(300)),
        headers: new Map([
          [b('trace'), b('abc')],
          [b('empty'), Buffer.alloc(0)],
        ]),
        timestamp: ts + 5n,
      },
      { topic: 'orders.dlq', partition: 1, key: b(''), value: null, headers: new Map(), timestamp: ts - 70_000n },
      { topic: 'orders', partition: 2, key: b('ключ'), value: b('ü'), headers: new Map(), timestamp: ts + 1n },
      { topic: 'orders', partition: 0, key: b('k'), value: b('v'), headers: new Map(), timestamp: ts },
    ]);
    const sequences = new NumericMap([
      ['orders:2', 17],
      ['orders.dlq:1', 2_000_000_000],
    ]);
    const options = { producerId: 42n, producerEpoch: 3, sequences, compression: 'none' };
    const expected = clientBytes(-1, 30_000, theirs, options);
    expect(encodeProduceRequest(-1, 30_000, ours, options).buffer.equals(expected)).toBe(true);
  });

  it('gives messages without a timestamp the request’s time and writes it back, as the client does', () => {
    const [ours, theirs] = twice(() => [
      { topic: 't', partition: 0, key: b('a'), value: b('1') },
      { topic: 't', partition: 0, key: b('b'), value: b('2') },
    ]);
    const before = BigInt(Date.now());
    const written = encodeProduceRequest(1, 5_000, ours, {}).buffer;
    const stamp = ours[0]?.timestamp;
    expect(typeof stamp).toBe('bigint');
    expect(stamp as bigint).toBeGreaterThanOrEqual(before);
    expect(ours[1]?.timestamp).toBe(stamp);
    for (const m of theirs) m.timestamp = stamp;
    expect(written.equals(clientBytes(1, 5_000, theirs, {}))).toBe(true);
  });

  it('writes a transactional id and the transactional attribute', () => {
    const [ours, theirs] = twice(() => [{ topic: 't', partition: 3, key: b('a'), value: b('1'), timestamp: 7n }]);
    const options = { transactionalId: 'tx-1', producerId: 9n, producerEpoch: 1, sequences: new NumericMap() };
    expect(encodeProduceRequest(-1, 1_000, ours, options).buffer.equals(clientBytes(-1, 1_000, theirs, options))).toBe(
      true,
    );
  });

  it('marks acks = 0 as expecting no response', () => {
    const writer = encodeProduceRequest(0, 1_000, [{ topic: 't', partition: 0, value: b('v'), timestamp: 1n }], {});
    expect(writer.context.noResponse).toBe(true);
    expect(encodeProduceRequest(1, 1_000, [{ topic: 't', value: b('v'), timestamp: 1n }], {}).context.noResponse).toBe(
      undefined,
    );
  });

  it('encodes large batches and long fields that need multi-byte varints, readable back with a valid CRC', () => {
    const messages: ProduceMessage[] = Array.from({ length: 20_000 }, (_, i) => ({
      topic: 'big',
      partition: 0,
      key: b(`key-${i}`),
      value: Buffer.alloc(i % 97 === 0 ? 70_000 : 10, i % 251),
      headers: i % 3 === 0 ? new Map([[b('h'), b(String(i))]]) : new Map(),
      timestamp: 1_000n + BigInt(i % 5),
    }));
    const copy = messages.map((m) => ({ ...m }));
    const body = encodeProduceRequest(-1, 1_000, messages, {}).buffer;
    expect(body.equals(clientBytes(-1, 1_000, copy, {}))).toBe(true);

    // the record batch starts after: null transactional id (1), acks (2), timeout (4), topics (1), name (1 + 3),
    // partitions (1), index (4), the records' length (varint)
    const reader = Reader.from(body);
    reader.skip(1 + 2 + 4 + 1 + 4 + 1 + 4);
    reader.readUnsignedVarInt();
    const batch = readRecordsBatch(reader);
    expect(batch.records).toHaveLength(20_000);
    expect(batch.records[97]?.value?.length).toBe(70_000);
    expect(batch.records[19_999]?.key?.toString()).toBe('key-19999');
    expect(batch.maxTimestamp).toBe(1_004n);
  });
});
