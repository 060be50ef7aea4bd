/**
 * The process `tributary run` assembles, as one function: a metrics registry with the engine's metrics, the
 * engine, the operations HTTP server (/metrics, /healthz, /readyz) and the lag source. Readiness is read from
 * `engine.status()` on every /readyz and /metrics request and once a second, and mirrored in `tributary_ready`.
 * Tests and embedders use it directly (with port 0); the run command adds configuration, pipeline loading and signals.
 */
import type { Logger } from 'pino';
import { createEngineMetrics, createRegistry, type EngineMetrics } from '../../metrics/createEngineMetrics.js';
import { errorMessage } from '../errors.js';
import { type HttpServer, startHttpServer } from '../http/server.js';
import { createKafkaClient } from '../kafka/createKafkaClient.js';
import type { KafkaConnectionConfig } from '../kafka/kafkajsClient.js';
import type { AdminPort, KafkaClientPort } from '../kafka/ports.js';
import type { Pipeline } from '../runtime/definePipeline.js';
import { createEngine, type Engine, type EngineOptions, type EngineStatus } from '../runtime/engine.js';

export interface StartTributaryOptions {
  // biome-ignore lint/suspicious/noExplicitAny: pipelines of any output type run side by side (as in EngineOptions)
  pipelines: readonly Pipeline<any>[];
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

const ADMIN_RETRY_MS = 5_000;

/**
 * Starts the HTTP server, then the engine. Rejects (after closing what it opened) when the port is taken
 * (`ConfigError` naming HTTP_PORT) or the engine cannot start (the client's error, e.g. authentication failed).
 */
export async function startTributary(options: StartTributaryOptions): Promise<RunningTributary> {
  const { logger, pipelines } = options;
  const registry = createRegistry();
  const metrics = createEngineMetrics(registry, {
    onLagError: ({ pipeline, group, error }) =>
      logger.warn({ pipeline, groupId: group, err: error }, `reading consumer lag failed: ${errorMessage(error)}`),
  });
  const client = 'client' in options.kafka ? options.kafka.client : createKafkaClient({ ...options.kafka, logger });
  const engine = createEngine({
    pipelines,
    kafka: { client },
    logger,
    observer: metrics.observer,
    ...(options.producer ? { producer: options.producer } : {}),
  });

  const status = (): EngineStatus => {
    const current = engine.status();
    metrics.ready(current.ready);
    return current;
  };
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
  const timer = setInterval(status, options.readinessIntervalMs ?? 1_000);
  timer.unref();
  options.onListening?.(http.port);

  try {
    await engine.start();
  } catch (error) {
    clearInterval(timer);
    await engine.abort().catch(() => {});
    await http.close().catch(() => {});
    throw error;
  }
  status();

  // The lag gauge reads offsets through its own admin client, connected in the background: the pipelines run
  // even when it cannot connect yet, and the gauge stays empty until it does.
  let stopped = false;
  let admin: AdminPort | undefined;
  const connectAdmin = async (): Promise<void> => {
    while (!stopped) {
      const candidate = client.admin();
      try {
        await candidate.connect();
        if (stopped) {
          await candidate.disconnect().catch(() => {});
          return;
        }
        admin = candidate;
        metrics.setLagSource(candidate);
        return;
      } catch (error) {
        logger.warn({ err: error }, `lag: admin client cannot connect (${errorMessage(error)}); retrying`);
        await new Promise((done) => setTimeout(done, ADMIN_RETRY_MS).unref());
      }
    }
  };
  connectAdmin().catch((error: unknown) => logger.error({ err: error }, 'lag: admin client set-up failed'));

  let stopping: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  return {
    engine,
    metrics,
    registry,
    port: http.port,
    status,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        try {
          await engine.stop();
        } finally {
          for (const pipeline of pipelines) metrics.released(pipeline.name);
          metrics.setLagSource(undefined);
          metrics.ready(false);
          // An admin client still connecting disconnects itself once it sees `stopped`.
          await admin?.disconnect().catch(() => {});
        }
      })();
      return stopping;
    },
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await http.close();
      })();
      return closing;
    },
  };
}
