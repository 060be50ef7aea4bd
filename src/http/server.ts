/**
 * The operations endpoint: `GET /metrics` (Prometheus text), `GET /healthz` (the process is alive) and
 * `GET /readyz` (200 only when the engine says it is ready, else 503 with the reasons). node:http only; the
 * registry is anything with a `Registry`'s `metrics()` and `contentType`, so this file does not import the metrics
 * client.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError } from '../config/configError.js';
import { errorMessage } from '../errors.js';

/** The part of a metrics `Registry` (@prometheus-io/client) the server uses. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready, one short sentence each (e.g. `pipeline orders: consumer has not joined group orders`). */
  readonly reasons: readonly string[];
}

export interface HttpServerOptions {
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  /** Interface to listen on. Default: all interfaces. */
  host?: string;
  registry: MetricsSource;
  /** Asked on every `/readyz`; must be cheap. */
  readiness: () => Readiness;
  logger: Logger;
}

export interface HttpServer {
  /** The port actually listened on. */
  readonly port: number;
  /** Stops accepting connections, closes idle keep-alive ones, resolves when the server is closed. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const CLOSE_GRACE_MS = 2_000;

function send(response: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(head ? undefined : body);
}

function sendJson(response: ServerResponse, status: number, value: unknown, head: boolean): void {
  send(response, status, JSON_TYPE, JSON.stringify(value), head);
}

async function handle(options: HttpServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const known = path === '/metrics' || path === '/healthz' || path === '/readyz';
  if (!known) {
    sendJson(
      response,
      404,
      { error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] },
      request.method === 'HEAD',
    );
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    sendJson(response, 405, { error: 'method not allowed' }, false);
    return;
  }
  const head = request.method === 'HEAD';

  if (path === '/healthz') {
    sendJson(response, 200, { status: 'ok' }, head);
    return;
  }

  if (path === '/readyz') {
    let readiness: Readiness;
    try {
      readiness = options.readiness();
    } catch (error) {
      readiness = { ready: false, reasons: [`readiness check failed: ${errorMessage(error)}`] };
    }
    if (readiness.ready) sendJson(response, 200, { ready: true }, head);
    else sendJson(response, 503, { ready: false, reasons: readiness.reasons }, head);
    return;
  }

  try {
    const body = await options.registry.metrics();
    send(response, 200, options.registry.contentType, body, head);
  } catch (error) {
    options.logger.error({ err: error }, 'collecting metrics failed');
    send(response, 500, 'text/plain; charset=utf-8', `collecting metrics failed: ${errorMessage(error)}\n`, head);
  }
}

function listenError(error: NodeJS.ErrnoException, port: number, host: string | undefined): Error {
  const where = `${host ?? 'all interfaces'} port ${port}`;
  if (error.code === 'EADDRINUSE') {
    return new ConfigError([
      {
        variable: 'HTTP_PORT',
        message: `port ${port} is already in use (${where}); free it or set HTTP_PORT to another port`,
      },
    ]);
  }
  if (error.code === 'EACCES') {
    return new ConfigError([
      { variable: 'HTTP_PORT', message: `no permission to listen on port ${port} (${where}); use a port above 1023` },
    ]);
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new Error(`cannot listen on ${where}: ${host} is not an address of this machine`, { cause: error });
  }
  return new Error(`cannot listen on ${where}: ${error.message}`, { cause: error });
}

/**
 * Starts the operations HTTP server.
 *
 * @example
 * const http = await startHttpServer({ port: config.httpPort, registry, readiness: () => engine.readiness(), logger });
 * // ... on shutdown:
 * await http.close();
 *
 * @param options Port, optional host, the metrics registry, the readiness function and a logger.
 * @returns The bound port and `close()`. Rejects with a `ConfigError` naming HTTP_PORT when the port is taken.
 */
export function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { port, host, logger } = options;
  const server: Server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      logger.error({ err: error }, 'http request failed');
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n', false);
      else response.destroy();
    });
  });

  return new Promise<HttpServer>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(listenError(error, port, host));
    server.once('error', onError);
    server.listen({ port, host }, () => {
      server.off('error', onError);
      server.on('error', (error) => logger.error({ err: error }, 'http server error'));
      const bound = (server.address() as AddressInfo).port;
      logger.info({ port: bound, host: host ?? null }, 'http server listening (/metrics, /healthz, /readyz)');
      let closing: Promise<void> | undefined;
      resolve({
        port: bound,
        close: () =>
          (closing ??= new Promise<void>((done, fail) => {
            // A request still running (a slow scrape) gets a short grace, then its connection is cut.
            const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
            force.unref();
            server.close((error) => {
              clearTimeout(force);
              if (error) fail(error);
              else done();
            });
            server.closeIdleConnections();
          })),
      });
    });
  });
}
