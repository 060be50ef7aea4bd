/**
 * The process `tributary run` assembles, as one function: the engine with its metrics and lag source
 * (`createMonitoredEngine`) and the operations HTTP server (/metrics, /healthz, /readyz). Readiness is read from
 * `engine.status()` on every /readyz and /metrics request and once a second, and mirrored in `tributary_ready`.
 * Tests and embedders use it directly (with port 0); the run command adds configuration, pipeline loading and signals.
 */
import type { Logger } from 'pino';
import type { EngineMetrics } from '../../metrics/createEngineMetrics.js';
import { type HttpServer, startHttpServer } from '../http/server.js';
import type { KafkaConnectionConfig } from '../kafka/kafkajsClient.js';
import type { KafkaClientPort } from '../kafka/ports.js';
import type { Pipeline } from '../runtime/definePipeline.js';
import type { Engine, EngineOptions, EngineStatus } from '../runtime/engine.js';
import { createMonitoredEngine } from './monitoredEngine.js';

export interface StartTributaryOptions {
  /** Pipelines of any output type run side by side. */
  pipelines: readonly Pipeline<unknown>[];
  /** Connection settings, or a ready client port. */
  kafka: KafkaConnectionConfig | { client: KafkaClientPort };
  logger: Logger;
  /** HTTP port; 0 picks a free one. */
  port: number;
  /** Interface to listen on. Default: all interfaces. */
  host?: string;
  /** How often `tributary_ready` is refreshed between requests. Default 1000 ms. */
  readinessIntervalMs?: number;
  /** Passed to the engine. */
  producer?: EngineOptions['producer'];
  /** Called once the HTTP server listens, before the engine starts (e.g. to watch /readyz during start-up). */
  onListening?: (port: number) => void;
}

export interface RunningTributary {
  readonly engine: Engine;
  readonly metrics: EngineMetrics;
  /** The metrics registry /metrics serves. */
  readonly registry: EngineMetrics['registry'];
  /** The HTTP port actually bound. */
  readonly port: number;
  /** The engine's status, also written to `tributary_ready`. */
  status(): EngineStatus;
  /**
   * Stops the engine gracefully (drain, commit, disconnect), then drops the pipelines' partition series and the lag
   * source, and sets `tributary_ready` to 0. The HTTP server keeps answering (/readyz says 503) until `close()`.
   */
  stop(): Promise<void>;
  /** Closes the HTTP server. Call after `stop()`. */
  close(): Promise<void>;
}

/**
 * Starts the HTTP server, then the engine. Rejects (after closing what it opened) when the port is taken
 * (`ConfigError` naming HTTP_PORT) or the engine cannot start (the client's error, e.g. authentication failed).
 */
export async function startTributary(options: StartTributaryOptions): Promise<RunningTributary> {
  const { logger } = options;
  const monitored = createMonitoredEngine({
    pipelines: options.pipelines,
    kafka: options.kafka,
    logger,
    ...(options.readinessIntervalMs === undefined ? {} : { readinessIntervalMs: options.readinessIntervalMs }),
    ...(options.producer ? { producer: options.producer } : {}),
  });
  const { engine, metrics, registry, status } = monitored;

  const http: HttpServer = await startHttpServer({
    port: options.port,
    ...(options.host === undefined ? {} : { host: options.host }),
    registry: {
      contentType: registry.contentType,
      metrics: () => {
        status();
        return registry.metrics();
      },
    },
    readiness: status,
    logger,
  });
  const url = `http://${options.host ?? 'localhost'}:${http.port}`;
  logger.info(
    { metricsUrl: `${url}/metrics` },
    `metrics on ${url}/metrics (health ${url}/healthz, ready ${url}/readyz)`,
  );
  options.onListening?.(http.port);

  try {
    await monitored.start();
  } catch (error) {
    await http.close().catch(() => {});
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    engine,
    metrics,
    registry,
    port: http.port,
    status,
    stop: () => monitored.stop(),
    close() {
      closing ??= http.close();
      return closing;
    },
  };
}
