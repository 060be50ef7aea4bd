import { createServer } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startTributary } from '../../../src/cli/startTributary.js';
import { ConfigError } from '../../../src/config/configError.js';
import { definePipeline } from '../../../src/index.js';
import { sampleValue, seriesOf } from '../metrics/promText.js';
import { fakeKafka } from './fakeKafka.js';

const logger = pino({ level: 'silent' });

const pipeline = definePipeline({
  name: 'orders',
  source: { topics: ['orders.v1'], groupId: 'orders-group' },
  deadLetter: { topic: 'orders.dlq' },
  build: (records) => records,
});

async function started(kafka = fakeKafka()) {
  kafka.topics.add('orders.dlq'); // the destination check at start-up finds the dead-letter topic
  const app = await startTributary({
    pipelines: [pipeline],
    kafka: { client: kafka.client },
    logger,
    port: 0,
    host: '127.0.0.1',
    readinessIntervalMs: 50,
  });
  onTestFinished(async () => {
    await app.stop().catch(() => {});
    await app.close();
  });
  const base = `http://127.0.0.1:${app.port}`;
  return { app, kafka, base };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

describe('startTributary (the wiring of tributary run)', () => {
  it('answers /readyz 503 until the consumer joins, then 200, and mirrors it in tributary_ready', async () => {
    const { base, kafka } = await started();
    const before = await get(`${base}/readyz`);
    expect(before.status).toBe(503);
    expect(JSON.parse(before.body)).toEqual({
      ready: false,
      reasons: ['pipeline orders: waiting to join its group'],
    });
    expect(sampleValue((await get(`${base}/metrics`)).body, 'tributary_ready')).toBe(0);

    kafka.join([{ topic: 'orders.v1', partition: 0 }]);
    const after = await get(`${base}/readyz`);
    expect(after.status).toBe(200);
    expect(sampleValue((await get(`${base}/metrics`)).body, 'tributary_ready')).toBe(1);
  });

  it('keeps tributary_ready in sync on its timer, without any request to /readyz', async () => {
    const { app, kafka } = await started();
    expect(sampleValue(await app.registry.metrics(), 'tributary_ready')).toBe(0);
    kafka.join([{ topic: 'orders.v1', partition: 0 }]);
    await new Promise((done) => setTimeout(done, 200)); // the timer runs every 50 ms here
    // registry.metrics() directly: not through the HTTP handler, which would refresh it itself
    expect(sampleValue(await app.registry.metrics(), 'tributary_ready')).toBe(1);
  });

  it('reads lag from the admin client, and drops the pipeline series after stop() while /readyz says 503', async () => {
    const kafka = fakeKafka();
    kafka.ends.set('orders.v1', [
      { partition: 0, low: 0n, high: 120n },
      { partition: 1, low: 0n, high: 80n },
    ]);
    kafka.committed.set('orders-group\u0000orders.v1', new Map([[0, 100n]]));
    const { app, base } = await started(kafka);
    kafka.join([
      { topic: 'orders.v1', partition: 0 },
      { topic: 'orders.v1', partition: 1 },
    ]);
    let text = '';
    for (let i = 0; i < 50 && seriesOf(text, 'tributary_consumer_lag_records').length < 2; i++) {
      await new Promise((done) => setTimeout(done, 20)); // the admin client connects in the background
      text = (await get(`${base}/metrics`)).body;
    }
    const labels = { pipeline: 'orders', group: 'orders-group', topic: 'orders.v1' };
    expect(sampleValue(text, 'tributary_consumer_lag_records', { ...labels, partition: '0' })).toBe(20);
    // no commit on partition 1: the whole retained log counts
    expect(sampleValue(text, 'tributary_consumer_lag_records', { ...labels, partition: '1' })).toBe(80);
    expect(sampleValue(text, 'tributary_assigned_partitions', labels)).toBe(2);
    expect(sampleValue(text, 'tributary_rebalances_total', { pipeline: 'orders', group: 'orders-group' })).toBe(1);

    await app.stop();
    expect(kafka.connectedConsumers()).toBe(0);
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).reasons).toContain('engine stopping');
    const afterStop = (await get(`${base}/metrics`)).body;
    expect(sampleValue(afterStop, 'tributary_ready')).toBe(0);
    expect(seriesOf(afterStop, 'tributary_consumer_lag_records')).toEqual([]);
    expect(seriesOf(afterStop, 'tributary_assigned_partitions')).toEqual([]);
    // leaving the group on stop is not a rebalance
    expect(sampleValue(afterStop, 'tributary_rebalances_total', { pipeline: 'orders', group: 'orders-group' })).toBe(1);
  });

  it('fails with a ConfigError naming HTTP_PORT when the port is taken, before connecting to Kafka', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    onTestFinished(() => new Promise<void>((done) => blocker.close(() => done())));
    const port = (blocker.address() as { port: number }).port;
    const kafka = fakeKafka();
    const attempt = startTributary({
      pipelines: [pipeline],
      kafka: { client: kafka.client },
      logger,
      port,
      host: '127.0.0.1',
    });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(`HTTP_PORT: port ${port} is already in use`);
    expect(kafka.connectedConsumers()).toBe(0);
  });

  it('closes the HTTP server again when the engine cannot start', async () => {
    const kafka = fakeKafka();
    kafka.failProducerConnect(new Error('broker says no'));
    let port = 0;
    await expect(
      startTributary({
        pipelines: [pipeline],
        kafka: { client: kafka.client },
        logger,
        port: 0,
        host: '127.0.0.1',
        onListening: (p) => {
          port = p;
        },
      }),
    ).rejects.toThrow('broker says no');
    expect(port).toBeGreaterThan(0);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
