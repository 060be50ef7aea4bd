/**
 * `tributary run [files or folders...]`: loads the configuration and the pipelines, starts the engine with its
 * metrics and HTTP endpoints, and runs until SIGTERM/SIGINT, then stops gracefully and exits 0.
 */
import { ConfigError, formatConfigError } from '../../config/configError.js';
import { redactConfig, type TributaryConfig } from '../../config/loadConfig.js';
import { errorMessage } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { parse, wantsHelp } from '../args.js';
import { commandBody, configOrReport, pipelinesOrReport } from '../common.js';
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, writeLines } from '../io.js';
import { describeKafkaError } from '../kafkaErrors.js';
import { type LoadedPipelines, NODE_STRIPS_TYPES, RUNNING_FROM_SOURCE } from '../loadPipelines.js';
import { type RunningTributary, startTributary } from '../startTributary.js';
import { runWorkers } from '../workers/runWorkers.js';

function loadedModules(): string {
  if (RUNNING_FROM_SOURCE) return 'Running from source (tsx): .ts and .js modules load.';
  if (NODE_STRIPS_TYPES) {
    return (
      '.js and .ts modules load; Node strips the types of .ts ones itself: erasable TypeScript only (no enums,\n' +
      'namespaces or parameter properties); relative imports name the .ts file or the .js file tsc would emit.'
    );
  }
  return '.js modules load (this Node does not strip types: use Node >= 22.18 for .ts, or compile them with tsc).';
}

export const runHelp = `Usage: tributary run [files or folders...]

Runs the pipelines until SIGTERM or SIGINT, then stops gracefully (stop admitting, drain in-flight
records, commit, disconnect) and exits 0. A second signal exits at once.

Pipelines: every module in the given files or folders (default ${RUNNING_FROM_SOURCE ? 'pipelines/' : 'dist/pipelines/, else pipelines/'}); from
each, its default export when it is a pipeline, else all exports made with definePipeline.
${loadedModules()}

Configuration: environment variables (KAFKA_BROKERS, KAFKA_SASL_MECHANISM, HTTP_PORT, LOG_LEVEL, ...;
see docs/operations.md). Serves /metrics, /healthz and /readyz on HTTP_PORT (default 9464).
TRIBUTARY_WORKERS=<n>|auto runs n engine worker processes (each one more member of every pipeline's
consumer group) behind that one endpoint; default 1, the engine in this process.

Exit codes: 0 stopped by a signal; 1 could not start (Kafka unreachable, authentication failed);
2 invalid configuration, taken HTTP port, or pipelines that do not load.

Options:
  -h, --help   show this help`;

export interface RunArgs {
  readonly paths: readonly string[];
}

export function parseRunArgs(argv: readonly string[]): RunArgs {
  const { positionals } = parse(argv, {});
  return { paths: positionals };
}

/** Resolves when the signal is aborted (never without one). */
function aborted(signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve(String(signal.reason ?? 'abort'));
    else signal.addEventListener('abort', () => resolve(String(signal.reason ?? 'abort')), { once: true });
  });
}

const USAGE = 'tributary run [files or folders...]';

export function runCommand(argv: string[], io: CliIo): Promise<number> {
  return commandBody(io, 'run', USAGE, async () => {
    if (wantsHelp(argv)) {
      writeLines(io.stdout, runHelp);
      return EXIT_OK;
    }
    const args = parseRunArgs(argv);
    const config = configOrReport(io);
    // Asked for before anything slow: a signal that arrives while starting is honoured once the start settles.
    const shutdown = io.shutdownSignal?.();
    const loaded = await pipelinesOrReport(io, args.paths);
    return run(io, config, loaded, shutdown, args.paths);
  });
}

async function run(
  io: CliIo,
  config: TributaryConfig,
  loaded: LoadedPipelines,
  shutdown: AbortSignal | undefined,
  paths: readonly string[],
): Promise<number> {
  const logger = createLogger({
    level: config.logLevel,
    ...(io.logDestination === undefined ? {} : { destination: io.logDestination }),
  });
  const count = loaded.pipelines.length;
  logger.info(
    {
      config: redactConfig(config),
      pipelines: loaded.pipelines.map(({ pipeline, file }) => ({ name: pipeline.name, file })),
      ...(loaded.skipped.length > 0 ? { skipped: loaded.skipped } : {}),
    },
    `tributary starting ${count} pipeline${count === 1 ? '' : 's'}${config.workers > 1 ? ` in ${config.workers} workers` : ''}`,
  );
  if (config.workers > 1) {
    return runWorkers({ io, config, paths, logger, shutdown: aborted(shutdown) });
  }

  let app: RunningTributary;
  try {
    app = await startTributary({
      pipelines: loaded.pipelines.map((l) => l.pipeline),
      kafka: config.kafka,
      logger,
      port: config.httpPort,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.error({ err: error, code: error.code }, error.message);
      writeLines(io.stderr, formatConfigError(error));
      return EXIT_USAGE;
    }
    const topics = [
      ...new Set(loaded.pipelines.flatMap(({ pipeline }) => [...pipeline.source.topics, pipeline.deadLetter.topic])),
    ];
    const problem = describeKafkaError(error, config.kafka, { topics });
    logger.error({ err: error, problem: problem.kind }, `start-up failed: ${problem.message}`);
    io.stderr(`tributary: start-up failed: ${problem.message}`);
    return EXIT_FAILURE;
  }

  const reason = await aborted(shutdown);
  logger.info({ signal: reason }, 'stopping gracefully');
  try {
    await app.stop();
  } catch (error) {
    logger.error({ err: error }, `graceful stop failed: ${errorMessage(error)}`);
    await app.close().catch(() => {});
    io.stderr(`tributary: graceful stop failed: ${errorMessage(error)}`);
    return EXIT_FAILURE;
  }
  await app.close();
  logger.info('tributary stopped');
  return EXIT_OK;
}
