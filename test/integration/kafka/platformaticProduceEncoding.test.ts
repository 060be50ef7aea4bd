/**
 * The @platformatic/kafka adapter encodes its Produce requests itself (src/kafka/platformatic/produceRequest.ts):
 * on the real broker, the Produce API it gets is the engine's, and what it writes reads back byte for byte through
 * another client (kafkajs), sequences included: several requests in a row to the same partitions are accepted by the
 * broker's idempotence checks and none is written twice.
 */
import { promisify } from 'node:util';
import { type API, kGetApi, produceV11 } from '@platformatic/kafka';
import { describe, expect, it, onTestFinished } from 'vitest';
import { EncodingProducer } from '../../../src/kafka/platformatic/encodingProducer.js';
import { createPlatformaticClient } from '../../../src/kafka/platformaticClient.js';
import type { OutgoingRecord } from '../../../src/kafka/ports.js';
import { bootstrapServers, createTopic, testKafka, uniqueName } from '../../support/kafka.js';
import { readToEnd } from '../../support/readToEnd.js';

describe('platformatic adapter: Produce requests encoded by the engine', () => {
  it('is the Produce API the client uses against this broker', async () => {
    const producer = new EncodingProducer({ clientId: uniqueName('encoding'), bootstrapBrokers: bootstrapServers() });
    onTestFinished(() => producer.close());
    const getApi = promisify((name: string, callback: (error: Error | null, api?: API<unknown[], unknown>) => void) =>
      producer[kGetApi](name, callback),
    );
    const api = await getApi('Produce');
    expect(api?.version).toBe(11);
    expect(api).not.toBe(produceV11.api);
    // other APIs are the client's own
    expect((await getApi('Metadata'))?.key).toBe(3);
  });

  it('writes what reads back byte for byte, over several requests to the same partitions, each record once', async () => {
    const topic = await createTopic('encoding', 3);
    const client = createPlatformaticClient({ brokers: bootstrapServers(), clientId: uniqueName('encoding') });
    const producer = client.producer();
    await producer.connect();
    onTestFinished(() => producer.disconnect());

    const sent: OutgoingRecord[] = [];
    for (let request = 0; request < 5; request++) {
      const records: OutgoingRecord[] = Array.from({ length: 400 }, (_, i) => {
        const n = request * 400 + i;
        return {
          topic,
          partition: n % 3,
          key: n % 7 === 0 ? null : `key-${n}-ключ`,
          // every 50th is 70,000 bytes: lengths that need three-byte varints
          value: n % 50 === 0 ? Buffer.alloc(70_000, n % 251) : n % 11 === 0 ? '' : JSON.stringify({ n, text: 'ü' }),
          headers: n % 3 === 0 ? { trace: `t-${n}`, empty: '', several: ['a', 'b'] } : undefined,
        };
      });
      await producer.send(records);
      sent.push(...records);
    }

    const stored = await readToEnd(testKafka(), topic);
    expect(stored).toHaveLength(sent.length);
    const byPartition = (p: number) => stored.filter((r) => r.partition === p);
    for (const p of [0, 1, 2]) {
      const expected = sent.filter((r) => r.partition === p);
      const got = byPartition(p).sort((a, b) => (a.offset < b.offset ? -1 : 1));
      expect(got.map((r) => r.offset)).toEqual(expected.map((_, i) => BigInt(i)));
      got.forEach((r, i) => {
        const e = expected[i] as OutgoingRecord;
        expect(r.key === null ? null : r.key.toString('utf8')).toBe(e.key);
        const value = typeof e.value === 'string' ? Buffer.from(e.value, 'utf8') : (e.value as Buffer);
        expect(r.value?.equals(value)).toBe(true);
        if (e.headers === undefined) expect(r.headers).toEqual({});
        else {
          expect(r.headers.trace?.toString()).toBe(e.headers.trace);
          expect(r.headers.empty?.length).toBe(0);
          // a header with several values is written once per value: the reader keeps the last
          expect(r.headers.several?.toString()).toBe('b');
        }
      });
    }
  });
});
