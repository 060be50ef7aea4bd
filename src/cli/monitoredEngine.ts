/**
 * The engine as `tributary run` runs it, without the HTTP server: a metrics registry with the engine's metrics, the
 * engine, the readiness gauge (refreshed from `engine.status()` on demand and once a second) and the lag gauge's
 * admin client, connected in the background once the engine runs. `startTributary` adds the HTTP endpoints; an
 * engine worker (src/cli/workers/) serves its registry and status to the primary process instead.
 */
import type { Logger } from 'pino';
import { createEngineMetrics, createRegistry, type EngineMetrics } from '../../metrics/createEngineMetrics.js';
import { errorMessage } from '../errors.js';
import { createKafkaClient } from '../kafka/createKafkaClient.js';
import type { KafkaConnectionConfig } from '../kafka/kafkajsClient.js';
import type { AdminPort, KafkaClientPort } from '../kafka/ports.js';
import type { Pipeline } from '../runtime/definePipeline.js';
import { createEngine, type Engine, type EngineOptions, type EngineStatus } from '../runtime/engine.js';

export interface MonitoredEngineOptions {
  /** Pipelines of any output type run side by side. */
  pipelines: readonly Pipeline<unknown>[];
  /** Connection settings, or a ready client port. */
  kafka: KafkaConnectionConfig | { client: KafkaClientPort };
  logger: Logger;
  /** How often `tributary_ready` is refreshed between reads. Default 1000 ms. */
  readinessIntervalMs?: number;
  /** Passed to the engine. */
  producer?: EngineOptions['producer'];
}

export interface MonitoredEngine {
  readonly engine: Engine;
  readonly metrics: EngineMetrics;
  readonly registry: EngineMetrics['registry'];
  /** The engine's status, also written to `tributary_ready`. */
  status(): EngineStatus;
  /** Starts the readiness timer and the engine, then connects the lag source in the background. Rejects (engine aborted) when it cannot. */
  start(): Promise<void>;
  /**
   * Stops the engine gracefully (drain, commit, disconnect), then drops the pipelines' partition series and the lag
   * source, and sets `tributary_ready` to 0.
   */
  stop(): Promise<void>;
}

const ADMIN_RETRY_MS = 5_000;

export function createMonitoredEngine(options: MonitoredEngineOptions): MonitoredEngine {
  const { logger, pipelines } = options;
  const registry = createRegistry();
  const metrics = createEngineMetrics(registry, {
    onLagError: ({ pipeline, group, error }) =>
      logger.warn({ pipeline, groupId: group, err: error }, `reading consumer lag failed: ${errorMessage(error)}`),
  });
  const engine = createEngine({
    pipelines,
    kafka: options.kafka,
    logger,
    observer: metrics.observer,
    ...(options.producer ? { producer: options.producer } : {}),
  });

  const status = (): EngineStatus => {
    const current = engine.status();
    metrics.ready(current.ready);
    return current;
  };
  let timer: NodeJS.Timeout | undefined;

  // The lag gauge reads offsets through its own admin client, connected in the background: the pipelines run
  // even when it cannot connect yet, and the gauge stays empty until it does.
  let stopped = false;
  let admin: AdminPort | undefined;
  const connectAdmin = async (): Promise<void> => {
    const kafka = options.kafka;
    const client = 'client' in kafka ? kafka.client : await createKafkaClient({ ...kafka, logger });
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

  let stopping: Promise<void> | undefined;
  return {
    engine,
    metrics,
    registry,
    status,
    async start() {
      timer ??= setInterval(status, options.readinessIntervalMs ?? 1_000);
      timer.unref();
      try {
        await engine.start();
      } catch (error) {
        clearInterval(timer);
        await engine.abort().catch(() => {});
        throw error;
      }
      status();
      connectAdmin().catch((error: unknown) => logger.error({ err: error }, 'lag: admin client set-up failed'));
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        try {
          await engine.stop();
        } finally {
          clearInterval(timer);
          for (const pipeline of pipelines) metrics.released(pipeline.name);
          metrics.setLagSource(undefined);
          metrics.ready(false);
          // An admin client still connecting disconnects itself once it sees `stopped`.
          await admin?.disconnect().catch(() => {});
        }
      })();
      return stopping;
    },
  };
}
