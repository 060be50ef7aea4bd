/**
 * /metrics on the real broker, served the way `tributary run` serves it (startTributary, HTTP on port 0): record
 * counts by outcome after a run with poison records, and the lag gauge while the pipeline is held and after.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { startTributary } from '../../../src/cli/startTributary.js';
import { definePipeline, parseJson, publish } from '../../../src/index.js';
import { eventually, testLogger } from '../../support/engine.js';
import { bootstrapServers, consume, createTopic, produce, testAdmin, uniqueName } from '../../support/kafka.js';
import { Valve } from '../../support/operators.js';
import { testKafkaLibrary } from '../../support/testClient.js';
import { sampleValue, seriesOf } from '../../unit/metrics/promText.js';

const PARTITIONS = 3;

describe('operations: /metrics on the real broker', () => {
  it('counts N consumed, N−k published, k dead-lettered; lag equals the held backlog, then 0 per partition', async () => {
    const n = 3000;
    const poisonEvery = 150; // k = 20 malformed JSON records
    const input = await createTopic('ops-metrics-in', PARTITIONS);
    const output = await createTopic('ops-metrics-out', PARTITIONS);
    const dlq = await createTopic('ops-metrics-dlq', 1);
    const groupId = uniqueName('ops-metrics-group');
    const records = Array.from({ length: n }, (_, i) => ({
      key: `k${i % 40}`,
      value: i % poisonEvery === 7 ? `{"i":${i},` : JSON.stringify({ i }),
    }));
    const k = records.filter((r) => r.value.endsWith(',')).length;
    expect(k).toBe(20);
    await produce(input, records);

    const valve = new Valve();
    const app = await startTributary({
      pipelines: [
        definePipeline({
          name: 'ops-metrics',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          maxInFlight: 300,
          commitIntervalMs: 200,
          build: (stream) => stream.pipe(valve.stage(), parseJson({ name: 'ops.parse' }), publish(output)),
        }),
      ],
      kafka: { brokers: bootstrapServers(), clientId: 'tributary-test-ops', library: testKafkaLibrary() },
      logger: testLogger,
      port: 0,
      host: '127.0.0.1',
    });
    onTestFinished(async () => {
      await app.stop().catch(() => {});
      await app.close();
    });
    const scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${app.port}/metrics`);
      expect(response.status).toBe(200);
      return response.text();
    };
    const admin = await testAdmin();
    const lagOf = (text: string, partition: number) =>
      sampleValue(text, 'tributary_consumer_lag_records', {
        pipeline: 'ops-metrics',
        group: groupId,
        topic: input,
        partition: String(partition),
      });
    const processed = (text: string, outcome: string) =>
      seriesOf(text, 'tributary_records_processed_total')
        .filter((s) => s.labels.outcome === outcome && s.labels.topic === input)
        .reduce((sum, s) => sum + s.value, 0);
    const allLagZero = (text: string) =>
      seriesOf(text, 'tributary_consumer_lag_records').length === PARTITIONS &&
      [0, 1, 2].every((p) => lagOf(text, p) === 0);

    // 1. Everything flows: counts by outcome, then lag 0 on every partition once the commits landed.
    const t0 = Date.now();
    let text = '';
    await eventually(
      async () => {
        text = await scrape();
        return processed(text, 'published') + processed(text, 'dead_lettered') === n && allLagZero(text);
      },
      `${n} records finished and lag 0 on ${PARTITIONS} partitions`,
      90_000,
    );
    const drainedMs = Date.now() - t0;
    const ends = await admin.fetchTopicOffsets(input);
    for (const { partition, high } of ends) {
      expect(
        sampleValue(text, 'tributary_records_consumed_total', {
          pipeline: 'ops-metrics',
          topic: input,
          partition: String(partition),
        }),
      ).toBe(Number(high));
    }
    expect(processed(text, 'published')).toBe(n - k);
    expect(processed(text, 'dead_lettered')).toBe(k);
    expect(processed(text, 'filtered') + processed(text, 'sunk')).toBe(0);
    expect(sampleValue(text, 'tributary_producer_records_total', { result: 'ok' })).toBe(n);
    expect(sampleValue(text, 'tributary_ready')).toBe(1);
    // the broker agrees: k records on the dead-letter topic
    expect(await consume(dlq, k)).toHaveLength(k);

    // 2. Hold the pipeline and produce a backlog: admitted records wait at the valve, nothing past them is
    //    committed, so the broker-side lag of each partition is exactly what was produced to it since.
    valve.close();
    const backlog = 900;
    await produce(
      input,
      Array.from({ length: backlog }, (_, i) => ({ key: `b${i % 40}`, value: JSON.stringify({ b: i }) })),
    );
    const endsHeld = await admin.fetchTopicOffsets(input);
    const expected = new Map(
      endsHeld.map(({ partition, high }) => {
        const before = ends.find((e) => e.partition === partition)?.high ?? '0';
        return [partition, Number(high) - Number(before)];
      }),
    );
    expect([...expected.values()].reduce((a, b) => a + b, 0)).toBe(backlog);
    await eventually(
      async () => {
        text = await scrape();
        return [0, 1, 2].every((p) => lagOf(text, p) === expected.get(p));
      },
      'lag = backlog on each partition while held',
      60_000,
    );
    const admitted = seriesOf(text, 'tributary_records_consumed_total').reduce((sum, s) => sum + s.value, 0) - n;
    expect(admitted).toBeGreaterThan(0); // the consumer kept admitting: the lag is not a stalled consumer
    expect(admitted).toBeLessThanOrEqual(300); // ... only up to maxInFlight, held at the valve
    // still held a moment later: lag does not drift while nothing finishes
    await new Promise((done) => setTimeout(done, 2_500));
    text = await scrape();
    for (const p of [0, 1, 2]) expect(lagOf(text, p)).toBe(expected.get(p));
    expect(processed(text, 'published')).toBe(n - k);
    console.info(
      `[ops metrics] held backlog ${backlog} → lag per partition ${[0, 1, 2].map((p) => lagOf(text, p)).join('/')}, ${admitted} admitted and held`,
    );

    // 3. Release: the backlog drains and lag returns to 0 on every partition.
    const t1 = Date.now();
    valve.open();
    await eventually(
      async () => {
        text = await scrape();
        return processed(text, 'published') === n - k + backlog && allLagZero(text);
      },
      'backlog drained and lag back to 0',
      90_000,
    );
    expect(processed(text, 'dead_lettered')).toBe(k);
    console.info(
      `[ops metrics] ${n} records finished with lag 0 after ${drainedMs} ms; backlog drained in ${Date.now() - t1} ms`,
    );
  }, 240_000);
});
