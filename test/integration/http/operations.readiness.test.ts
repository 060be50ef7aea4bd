/**
 * /readyz on the real broker, served the way `tributary run` serves it: 503 until every consumer has joined its group,
 * 200 while running, 503 again once stop() began; `tributary_ready` follows it.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startTributary } from '../../../src/cli/startTributary.js';
import { definePipeline, publish } from '../../../src/index.js';
import { eventually } from '../../support/engine.js';
import { bootstrapServers, createTopic, produce, uniqueName } from '../../support/kafka.js';
import { testKafkaLibrary } from '../../support/testClient.js';
import { sampleValue, seriesOf } from '../../unit/metrics/promText.js';

interface Probe {
  readonly status: number;
  readonly reasons: readonly string[];
  /** Date.now() when the answer arrived. */
  readonly at: number;
}

describe('operations: /readyz on the real broker', () => {
  it('is 503 before the group join, 200 while running, 503 after stop()', async () => {
    const input = await createTopic('ops-ready-in', 2);
    const output = await createTopic('ops-ready-out', 2);
    const dlq = await createTopic('ops-ready-dlq', 1);
    await produce(
      input,
      Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    );

    // When each consumer logged "joined group", by pipeline: pino's own `time` (taken when the line is logged, not when
    // this sink gets it, which can be later on a loaded machine).
    const joinedAt = new Map<string, number>();
    const logs = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) {
          if (line.trim() === '') continue;
          const entry = JSON.parse(line) as { msg?: string; pipeline?: string; time?: number };
          if (entry.msg === 'joined group' && entry.pipeline && entry.time && !joinedAt.has(entry.pipeline)) {
            joinedAt.set(entry.pipeline, entry.time);
          }
        }
        done();
      },
    });
    const logger = pino({ level: 'info' }, logs);

    const pipelines = ['ready-a', 'ready-b'].map((name) =>
      definePipeline({
        name,
        source: { topics: [input], groupId: uniqueName(`ops-${name}`) },
        deadLetter: { topic: dlq },
        build: (stream) => stream.pipe(publish(output)),
      }),
    );
    const probes: Probe[] = [];
    let polling = true;
    let poller: Promise<void> | undefined;
    const app = await startTributary({
      pipelines,
      kafka: { brokers: bootstrapServers(), clientId: 'tributary-test-ready', library: testKafkaLibrary() },
      logger,
      port: 0,
      host: '127.0.0.1',
      // Poll /readyz from the moment the server listens, while the engine connects and the consumers join.
      onListening: (port) => {
        poller = (async () => {
          while (polling) {
            const response = await fetch(`http://127.0.0.1:${port}/readyz`);
            const body = (await response.json()) as { reasons?: string[] };
            probes.push({ status: response.status, reasons: body.reasons ?? [], at: Date.now() });
            await new Promise((done) => setTimeout(done, 10));
          }
        })();
      },
    });
    onTestFinished(async () => {
      polling = false;
      await app.stop().catch(() => {});
      await app.close();
    });
    const base = `http://127.0.0.1:${app.port}`;
    await eventually(() => probes.some((p) => p.status === 200), '/readyz 200');
    polling = false;
    await poller;

    const firstReady = probes.findIndex((p) => p.status === 200);
    const before = probes.slice(0, firstReady);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((p) => p.status === 503)).toBe(true);
    const reasons = new Set(before.flatMap((p) => p.reasons));
    // each 503 says why, in the engine's words (kafkajs joins the group inside consumer.run(), so while starting the
    // reasons are the producer and the pipelines' states)
    expect(before.every((p) => p.reasons.length > 0)).toBe(true);
    for (const reason of reasons) {
      expect(reason).toMatch(
        /^(engine not started|producer not connected|pipeline ready-[ab]: (idle|starting|waiting to join its group))$/,
      );
    }
    // no 200 before both consumers had joined their groups
    expect(joinedAt.size).toBe(2);
    const lastJoin = Math.max(...joinedAt.values());
    for (const p of probes.filter((p) => p.status === 200)) expect(p.at).toBeGreaterThanOrEqual(lastJoin);

    // while running
    const running = await fetch(`${base}/readyz`);
    expect(running.status).toBe(200);
    expect(await running.json()).toEqual({ ready: true });
    expect(sampleValue(await (await fetch(`${base}/metrics`)).text(), 'tributary_ready')).toBe(1);

    // after stop(): 503 with the reason, ready 0, and the pipelines' partition series gone
    await app.stop();
    const stopped = await fetch(`${base}/readyz`);
    expect(stopped.status).toBe(503);
    const body = (await stopped.json()) as { ready: boolean; reasons: string[] };
    expect(body.ready).toBe(false);
    expect(body.reasons).toContain('engine stopping');
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(sampleValue(text, 'tributary_ready')).toBe(0);
    expect(seriesOf(text, 'tributary_assigned_partitions')).toEqual([]);
    expect(seriesOf(text, 'tributary_consumer_lag_records')).toEqual([]);
    console.info(
      `[ops readiness] ${before.length} probes answered 503 (${[...reasons].join('; ')}) before the first 200`,
    );
  });
});
