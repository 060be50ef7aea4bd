import { describe, expect, inject, it } from 'vitest';
import { consume, createTopic, produce, testAdmin, uniqueName } from '../../support/kafka.js';

describe('the test broker', () => {
  it('is a real Kafka cluster that answers metadata requests', async () => {
    const admin = await testAdmin();
    const { clusterId, brokers } = await admin.describeCluster();
    console.info(`[kafka] ${inject('kafkaSource')} broker ${inject('kafkaBootstrap')}: cluster id ${clusterId}`);
    expect(clusterId).toBe(inject('kafkaClusterId'));
    expect(clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(brokers.length).toBeGreaterThanOrEqual(1);
  });

  it('delivers 10,000 keyed records across 3 partitions to a consumer group once each, in order per partition', async () => {
    const topic = await createTopic('foundation', 3);
    const keys = 97;
    const records = Array.from({ length: 10_000 }, (_, i) => ({ key: `key-${i % keys}`, value: String(i) }));
    await produce(topic, records);

    const received = await consume(topic, records.length, { groupId: uniqueName('foundation-group') });

    // every record exactly once
    expect(received).toHaveLength(records.length);
    const values = received.map((r) => Number(r.value));
    expect(new Set(values).size).toBe(records.length);
    expect(Math.min(...values)).toBe(0);
    expect(Math.max(...values)).toBe(records.length - 1);

    // all three partitions carry data, and a key always lands on the same partition
    const partitionOfKey = new Map<string, number>();
    for (const r of received) {
      const key = r.key ?? '';
      expect(partitionOfKey.get(key) ?? r.partition).toBe(r.partition);
      partitionOfKey.set(key, r.partition);
    }
    expect(new Set(received.map((r) => r.partition))).toEqual(new Set([0, 1, 2]));

    // per partition: offsets strictly increase and values follow production order
    for (const partition of [0, 1, 2]) {
      const mine = received.filter((r) => r.partition === partition);
      for (let i = 1; i < mine.length; i++) {
        const [prev, cur] = [mine[i - 1], mine[i]];
        expect(cur?.offset).toBeGreaterThan(prev?.offset ?? -1n);
        expect(Number(cur?.value)).toBeGreaterThan(Number(prev?.value));
      }
    }
  });
});
