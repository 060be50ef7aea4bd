import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from '@prometheus-io/client';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngineMetrics } from '../../../metrics/createEngineMetrics.js';
import { ConfigError } from '../../../src/config/configError.js';
import { type HttpServer, type Readiness, startHttpServer } from '../../../src/http/server.js';
import { createLogger } from '../../../src/logger.js';

const logLines: Record<string, unknown>[] = [];
const logger = createLogger({
  level: 'debug',
  destination: { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) },
});

const started: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
  logLines.length = 0;
});

async function start(readiness: () => Readiness = () => ({ ready: true, reasons: [] }), registry = new Registry()) {
  const server = await startHttpServer({ port: 0, host: '127.0.0.1', registry, readiness, logger });
  started.push(server);
  return { server, base: `http://127.0.0.1:${server.port}`, registry };
}

describe('startHttpServer', () => {
  it('listens on a free port when given 0 and logs it', async () => {
    const { server } = await start();
    expect(server.port).toBeGreaterThan(0);
    expect(logLines).toContainEqual(expect.objectContaining({ level: 'info', port: server.port, host: '127.0.0.1' }));
  });

  it('serves the registry on GET /metrics with its content type', async () => {
    const registry = new Registry();
    const metrics = createEngineMetrics(registry, { defaultMetrics: false });
    metrics.observer.recordsConsumed('orders', 'orders.v1', 0, 7);
    metrics.ready(true);
    const { base } = await start(undefined, registry);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await response.text();
    expect(body).toContain('# TYPE tributary_records_consumed_total counter');
    expect(body).toContain('tributary_records_consumed_total{pipeline="orders",topic="orders.v1",partition="0"} 7');
    expect(body).toContain('tributary_ready 1');
  });

  it('answers 500 when collecting metrics fails, and keeps serving', async () => {
    let fail = true;
    const registry = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      metrics: async () => {
        if (fail) throw new Error('collector exploded');
        return 'up 1\n';
      },
    };
    const server = await startHttpServer({
      port: 0,
      registry,
      readiness: () => ({ ready: true, reasons: [] }),
      logger,
    });
    started.push(server);
    const failed = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe('collecting metrics failed: collector exploded\n');
    expect(logLines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'collecting metrics failed' }));
    fail = false;
    const ok = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(await ok.text()).toBe('up 1\n');
  });

  it('answers /healthz with 200 {status: ok}', async () => {
    const { base } = await start(() => ({ ready: false, reasons: ['not yet'] }));
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 when ready and 503 with the reasons when not, asking on every request', async () => {
    let readiness: Readiness = {
      ready: false,
      reasons: ['pipeline orders: consumer has not joined group orders', 'producer is not connected'],
    };
    const { base } = await start(() => readiness);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({
      ready: false,
      reasons: ['pipeline orders: consumer has not joined group orders', 'producer is not connected'],
    });

    readiness = { ready: true, reasons: [] };
    const ready = await fetch(`${base}/readyz?verbose=1`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
  });

  it('answers 503 when the readiness function throws', async () => {
    const { base } = await start(() => {
      throw new Error('engine not started');
    });
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ ready: false, reasons: ['readiness check failed: engine not started'] });
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const { base } = await start();
    const missing = await fetch(`${base}/metricz`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] });
    expect((await fetch(`${base}/`)).status).toBe(404);

    const post = await fetch(`${base}/healthz`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await post.body?.cancel();
  });

  it('answers HEAD without a body', async () => {
    const { base } = await start();
    const response = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('rejects with a ConfigError naming the port and HTTP_PORT when the port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const attempt = startHttpServer({
        port,
        host: '127.0.0.1',
        registry: new Registry(),
        readiness: () => ({ ready: true, reasons: [] }),
        logger,
      });
      await expect(attempt).rejects.toBeInstanceOf(ConfigError);
      await expect(attempt).rejects.toMatchObject({
        code: 'TRIBUTARY_ERR_CONFIG',
        message: `HTTP_PORT: port ${port} is already in use (127.0.0.1 port ${port}); free it or set HTTP_PORT to another port`,
      });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('close() stops listening, closes kept-alive connections, and can be called twice', async () => {
    const { server, base } = await start();
    const response = await fetch(`${base}/healthz`, { keepalive: true });
    await response.json();
    const started_ = Date.now();
    await server.close();
    await server.close();
    expect(Date.now() - started_).toBeLessThan(1_500);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    started.splice(started.indexOf(server), 1);
  });

  it('close() cuts a request that is still running after a short grace', async () => {
    const registry = { contentType: 'text/plain', metrics: () => new Promise<string>(() => {}) };
    const server = await startHttpServer({
      port: 0,
      registry,
      readiness: () => ({ ready: true, reasons: [] }),
      logger,
    });
    const hanging = fetch(`http://127.0.0.1:${server.port}/metrics`);
    const outcome = hanging.then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = Date.now();
    await server.close();
    const took = Date.now() - closing;
    expect(took).toBeGreaterThanOrEqual(1_900);
    expect(took).toBeLessThan(5_000);
    expect(await outcome).toBe('cut');
  });
});
