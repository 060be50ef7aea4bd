/**
 * `tributary run` with TRIBUTARY_WORKERS > 1: this process becomes the primary. It serves the one HTTP endpoint
 * (/metrics aggregated over the workers, /readyz ready when every worker is, /healthz) and supervises the engine
 * workers (supervisor.ts), each one more member of every pipeline's consumer group, so Kafka spreads partitions over
 * the cores as it does over containers. The first SIGTERM/SIGINT stops every worker gracefully, then exits 0.
 */
import type { Logger } from 'pino';
import { ConfigError, formatConfigError } from '../../config/configError.js';
import type { TributaryConfig } from '../../config/loadConfig.js';
import { errorMessage } from '../../errors.js';
import { type HttpServer, startHttpServer } from '../../http/server.js';
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, writeLines } from '../io.js';
import { createSupervisor, type SupervisorOptions, WorkerStartError } from './supervisor.js';

export interface RunWorkersOptions {
  readonly io: CliIo;
  readonly config: TributaryConfig;
  readonly paths: readonly string[];
  readonly logger: Logger;
  /** Resolves with the signal's name on the first SIGTERM/SIGINT. */
  readonly shutdown: Promise<string>;
  /** For tests: worker entry, Node options, restart timings. */
  readonly supervisor?: Pick<SupervisorOptions, 'entry' | 'execArgv' | 'restart'>;
}

export async function runWorkers(options: RunWorkersOptions): Promise<number> {
  const { io, config, logger } = options;
  const destination = io.logDestination;
  const supervisor = createSupervisor({
    workers: config.workers,
    paths: options.paths,
    cwd: io.cwd ?? process.cwd(),
    env: io.env,
    logger,
    writeLog:
      destination === undefined
        ? (line) => process.stdout.write(`${line}\n`)
        : (line) => destination.write(`${line}\n`),
    writeStderr: io.stderr,
    ...options.supervisor,
  });

  let http: HttpServer;
  try {
    http = await startHttpServer({
      port: config.httpPort,
      registry: { contentType: supervisor.contentType, metrics: () => supervisor.metrics() },
      readiness: () => supervisor.readiness(),
      logger,
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error({ err: error, code: error.code }, error.message);
    writeLines(io.stderr, formatConfigError(error));
    return EXIT_USAGE;
  }
  const url = `http://localhost:${http.port}`;
  logger.info(
    { metricsUrl: `${url}/metrics`, workers: config.workers },
    `metrics on ${url}/metrics (health ${url}/healthz, ready ${url}/readyz), aggregated over ${config.workers} workers`,
  );

  const started = supervisor.start().then(
    () => undefined,
    (error: unknown) => error,
  );
  const first = await Promise.race([
    started.then((error) => ({ error })),
    options.shutdown.then((signal) => ({ signal })),
  ]);
  if ('error' in first && first.error !== undefined) {
    const error = first.error;
    const exitCode = error instanceof WorkerStartError ? error.exitCode : EXIT_FAILURE;
    const message = error instanceof WorkerStartError ? error.message : `tributary: ${errorMessage(error)}`;
    logger.error({ err: error }, `a worker could not start; stopping the others`);
    await supervisor.stop().catch(() => {});
    await http.close().catch(() => {});
    writeLines(io.stderr, message);
    return exitCode;
  }
  if ('error' in first) logger.info({ workers: config.workers }, `all ${config.workers} workers started`);

  const signal = 'signal' in first ? first.signal : await options.shutdown;
  logger.info({ signal }, 'stopping gracefully');
  try {
    await supervisor.stop();
  } catch (error) {
    logger.error({ err: error }, `graceful stop failed: ${errorMessage(error)}`);
    await http.close().catch(() => {});
    io.stderr(`tributary: graceful stop failed: ${errorMessage(error)}`);
    return EXIT_FAILURE;
  }
  await http.close();
  logger.info('tributary stopped');
  return EXIT_OK;
}
