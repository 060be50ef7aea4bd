/**
 * Stalls that used to be silent or permanent (reliability review F6, F8, F9, F10): a plain RxJS operator that drops
 * records, a chain that completes, a crash while restarting, a crash loop, and a stuck head with the partition
 * flowing behind it. Each test fails on 37b4b30.
 */

import { Registry } from '@prometheus-io/client';
import { defer, filter, map, take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createEngineMetrics } from '../../../metrics/index.js';
import { definePipeline, type Element, parseJson, publish, sink } from '../../../src/index.js';
import { capturedLogger } from '../../support/capturedLogger.js';
import { eventually, testEngine } from '../../support/engine.js';
import {
  collect,
  committedOffsets,
  createTopic,
  expectCommittedToEnd,
  produce,
  uniqueName,
} from '../../support/kafka.js';

const numbered = (count: number, partitions = 1) =>
  Array.from({ length: count }, (_, i) => ({ value: String(i), partition: i % partitions }));

async function sampleOf(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return Number(value?.value ?? 0);
}

describe('stalls are never silent, and plain RxJS operators are safe', () => {
  it('F10: records a plain filter drops end as filtered, are counted, warned about once, and committed', async () => {
    const input = await createTopic('drop-in', 2);
    const output = await createTopic('drop-out', 2);
    const dlq = await createTopic('drop-dlq', 1);
    const groupId = uniqueName('drop-group');
    await produce(input, numbered(5000, 2));
    const registry = new Registry();
    const metrics = createEngineMetrics(registry, { defaultMetrics: false });
    const logs = capturedLogger();
    const engine = testEngine({
      logger: logs.logger,
      observer: metrics.observer,
      pipelines: [
        definePipeline({
          name: 'dropping',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          maxInFlight: 500,
          stuckAfterMs: 1000,
          build: (stream) =>
            stream.pipe(
              filter((el) => !el.ok || Number(el.value?.toString()) % 3 !== 0),
              publish(output),
            ),
        }),
      ],
    });
    await engine.start();
    await eventually(
      async () => {
        const committed = await committedOffsets(groupId, input);
        return committed.get(0) === 2500n && committed.get(1) === 2500n;
      },
      'every offset committed, the filtered ones included',
      60_000,
    );
    const filtered = await sampleOf(registry, 'tributary_records_processed_total', {
      pipeline: 'dropping',
      outcome: 'filtered',
    });
    expect(filtered).toBe(1667); // 0, 3, …, 4998
    expect(engine.status().ready).toBe(true);
    const warnings = logs.entries.filter((e) => e.msg.includes('let go of a record without an outcome'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('dropping');
    await engine.stop();
    await expectCommittedToEnd(groupId, [input]);
  });

  it('a chain that completes (take) stops its pipeline cleanly: no restart loop, nothing unprocessed committed', async () => {
    const input = await createTopic('take-in', 1);
    const output = await createTopic('take-out', 1);
    const dlq = await createTopic('take-dlq', 1);
    const groupId = uniqueName('take-group');
    await produce(input, numbered(200));
    let builds = 0;
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'taking',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          build: (stream) =>
            defer(() => {
              builds++; // counted when the engine subscribes, not when something inspects the chain
              return stream.pipe(publish(output), take(10));
            }),
        }),
      ],
    });
    await engine.start();
    await eventually(() => engine.status().pipelines[0]?.state === 'completed', 'the pipeline stopped as completed');
    const status = engine.status();
    expect(status.ready).toBe(false);
    expect(status.reasons).toContain('pipeline taking: stopped: its operator chain completed');
    await new Promise((done) => setTimeout(done, 1500)); // a restart loop would have rebuilt by now
    expect(builds).toBe(1);
    const committed = (await committedOffsets(groupId, input)).get(0) ?? -1n;
    // the ten taken records are committed; records the chain never processed are not
    expect(committed).toBeGreaterThanOrEqual(10n);
    expect(committed).toBeLessThan(200n);
    await engine.stop();
  });

  it('F6: a chain that fails while the pipeline restarts is restarted again, never left dead and ready', async () => {
    const input = await createTopic('restart-in', 2);
    const output = await createTopic('restart-out', 2);
    const dlq = await createTopic('restart-dlq', 1);
    await produce(input, numbered(3000, 2));
    const out = await collect(output);
    let builds = 0;
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'restarting',
          source: { topics: [input], groupId: uniqueName('restart-group') },
          deadLetter: { topic: dlq },
          build: (stream) =>
            defer(() => {
              builds++; // counted when the engine subscribes, not when something inspects the chain
              const build = builds;
              // e.g. a pool that cannot be created yet: the second run's chain errors as soon as it is subscribed
              if (build === 2) throw new Error('cannot create the pool');
              return stream.pipe(
                map((el: Element<Buffer | null>) => {
                  if (build === 1 && el.ok && el.value?.toString() === '10') throw new Error('bug on record 10');
                  return el;
                }),
                publish(output),
              );
            }),
        }),
      ],
    });
    await engine.start();
    const values = new Set<string>();
    await eventually(
      () => {
        for (const r of out.records) if (r.value !== undefined && r.value !== null) values.add(r.value);
        return values.size >= 3000;
      },
      'all 3000 records after two failed runs',
      60_000,
    );
    expect(builds).toBeGreaterThanOrEqual(3);
    await eventually(() => engine.status().ready, 'ready again');
    await engine.stop();
  });

  it('F8: a poison record that crashes the chain again and again backs off 0.5 s, 1 s, 2 s, 4 s', async () => {
    const input = await createTopic('storm-in', 2);
    const output = await createTopic('storm-out', 2);
    const dlq = await createTopic('storm-dlq', 1);
    // partition 0 holds the poison record; partition 1 keeps flowing and committing between crashes
    await produce(input, [{ value: 'poison', partition: 0 }]);
    await produce(
      input,
      numbered(2000).map((r) => ({ ...r, partition: 1 })),
    );
    const logs = capturedLogger();
    const engine = testEngine({
      logger: logs.logger,
      pipelines: [
        definePipeline({
          name: 'storming',
          source: { topics: [input], groupId: uniqueName('storm-group') },
          deadLetter: { topic: dlq },
          commitIntervalMs: 100,
          build: (stream) =>
            stream.pipe(
              map((el: Element<Buffer | null>) => {
                if (el.ok && el.value?.toString() === 'poison') throw new Error('poison');
                return el;
              }),
              publish(output),
            ),
        }),
      ],
    });
    await engine.start();
    const delays = () =>
      logs.entries.map((e) => /restarting in (\d+) ms/.exec(e.msg)?.[1]).filter((d): d is string => d !== undefined);
    await eventually(() => delays().length >= 4, 'four crashes', 30_000);
    await engine.abort();
    expect(delays().slice(0, 4)).toEqual(['500', '1000', '2000', '4000']);
  });

  it('F9: a stuck head pauses its partition before its retained entries grow without bound, and is reported', async () => {
    const input = await createTopic('stuck-in', 1);
    const output = await createTopic('stuck-out', 1);
    const dlq = await createTopic('stuck-dlq', 1);
    await produce(input, numbered(20_000));
    const registry = new Registry();
    const metrics = createEngineMetrics(registry, { defaultMetrics: false });
    const logs = capturedLogger();
    let consumed = 0;
    const engine = testEngine({
      logger: logs.logger,
      observer: {
        ...metrics.observer,
        recordsConsumed: (...args) => {
          consumed += args[3];
          metrics.observer.recordsConsumed(...args);
        },
      },
      pipelines: [
        definePipeline({
          name: 'stuck',
          source: { topics: [input], groupId: uniqueName('stuck-group') },
          deadLetter: { topic: dlq },
          ordering: 'unordered',
          maxInFlight: 100,
          stuckAfterMs: 1000,
          build: (stream) =>
            stream.pipe(
              parseJson<number>(),
              // record 0 hangs (a call without a timeout); everything behind it flows
              sink((value) => (value === 0 ? new Promise<void>(() => {}) : undefined), {
                timeoutMs: 0,
              }),
              publish(output),
            ),
        }),
      ],
    });
    await engine.start();
    await eventually(
      () => logs.entries.some((e) => e.msg.includes('record unfinished for')),
      'a warning about the stuck record',
    );
    // it names the last stage the record passed: the one after it holds it
    expect(logs.entries.find((e) => e.msg.includes('record unfinished for'))?.msg).toContain('after stage parseJson');
    await eventually(
      async () => (await sampleOf(registry, 'tributary_oldest_unfinished_seconds', { pipeline: 'stuck' })) >= 1,
      'the age of the oldest unfinished record exported',
    );
    await eventually(() => engine.status().pipelines[0]?.pausedPartitions === 1, 'the partition paused');
    const settled = consumed;
    await new Promise((done) => setTimeout(done, 1000));
    // bounded by the retained limit (1000 entries for maxInFlight 100) plus one parked batch's worth
    expect(consumed).toBe(settled);
    expect(consumed).toBeLessThanOrEqual(1000 + 100);
    await eventually(
      () => engine.status().reasons.some((r) => r.startsWith('pipeline stuck: no record finished')),
      'readiness says the pipeline makes no progress',
    );
    await engine.abort();
  });
});
