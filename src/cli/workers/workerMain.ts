/**
 * An engine worker: a child process the primary forks (`workerMain <n> [pipeline paths...]`, see supervisor.ts). It
 * runs every pipeline, as `tributary run` does with one worker, so it is one more member of each pipeline's group,
 * and has no HTTP server: it sends its readiness when it changes and its metrics when asked, over IPC. Its log lines
 * carry `worker: <n>`.
 *
 * It stops only when the primary says so (or disappears): SIGTERM and SIGINT are ignored, because a Ctrl-C in a
 * terminal reaches the whole process group and the primary decides how the container stops.
 */
import { ConfigError, formatConfigError } from '../../config/configError.js';
import { loadConfig } from '../../config/loadConfig.js';
import { errorMessage } from '../../errors.js';
import { createKafkaClient } from '../../kafka/createKafkaClient.js';
import { createLogger } from '../../logger.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../io.js';
import { describeKafkaError } from '../kafkaErrors.js';
import { loadPipelines, PipelineLoadError } from '../loadPipelines.js';
import { createMonitoredEngine, type MonitoredEngine } from '../monitoredEngine.js';
import { type FromWorker, isToWorker } from './protocol.js';

const STATUS_INTERVAL_MS = 250;

function send(message: FromWorker): void {
  if (process.connected) process.send?.(message);
}

function exit(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

async function main(): Promise<void> {
  const [index, ...paths] = process.argv.slice(2);
  const worker = Number(index);
  if (process.send === undefined || !Number.isInteger(worker) || worker < 1) {
    process.stderr.write('tributary worker: started by `tributary run` with TRIBUTARY_WORKERS > 1, not by hand\n');
    exit(EXIT_USAGE);
    return;
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => {});

  const failStart = (exitCode: number, message: string) => {
    send({ type: 'startFailed', exitCode, message });
    exit(exitCode);
  };

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) return failStart(EXIT_USAGE, formatConfigError(error));
    throw error;
  }
  const logger = createLogger({ level: config.logLevel }).child({ worker });

  let loaded: Awaited<ReturnType<typeof loadPipelines>>;
  try {
    loaded = await loadPipelines(paths, { cwd: process.cwd() });
  } catch (error) {
    if (error instanceof PipelineLoadError) return failStart(EXIT_USAGE, `tributary: ${error.message}`);
    throw error;
  }

  const app: MonitoredEngine = createMonitoredEngine({
    pipelines: loaded.pipelines.map((l) => l.pipeline),
    kafka: config.kafka,
    logger,
  });

  let stopRequested = false;
  let started = false;
  let stopping: Promise<void> | undefined;
  let lastStatus = '';
  const statusTimer = setInterval(() => {
    const { ready, reasons } = app.status();
    const current = JSON.stringify({ ready, reasons });
    if (current !== lastStatus) {
      lastStatus = current;
      send({ type: 'status', readiness: { ready, reasons } });
    }
  }, STATUS_INTERVAL_MS);

  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason: why }, 'worker stopping gracefully');
      try {
        await app.stop();
        clearInterval(statusTimer);
        logger.info('worker stopped');
        exit(EXIT_OK);
      } catch (error) {
        logger.error({ err: error }, `graceful stop failed: ${errorMessage(error)}`);
        process.stderr.write(`tributary worker ${worker}: graceful stop failed: ${errorMessage(error)}\n`);
        exit(EXIT_FAILURE);
      }
    })();
    return stopping;
  };
  const onStopRequest = (why: string) => {
    stopRequested = true;
    // Asked while starting: honoured once the start settles.
    if (started) stop(why).catch(() => {});
  };

  let joinNow: () => void = () => {};
  const toldToJoin = new Promise<void>((resolve) => {
    joinNow = resolve;
  });
  process.on('message', (message: unknown) => {
    if (!isToWorker(message)) return;
    if (message.type === 'stop') {
      onStopRequest('asked by the primary');
      joinNow();
      return;
    }
    if (message.type === 'join') {
      joinNow();
      return;
    }
    app.registry.getMetricsAsJSON().then(
      (metrics) => send({ type: 'metrics', id: message.id, metrics }),
      (error: unknown) => send({ type: 'metrics', id: message.id, error: errorMessage(error) }),
    );
  });
  // The primary is gone (killed): leave the groups cleanly rather than linger.
  process.on('disconnect', () => {
    onStopRequest('the primary process is gone');
    joinNow();
  });

  // Load the Kafka client library now (about 0.8 s of CPU for @platformatic/kafka), then wait for the primary: the
  // workers of a first start join their groups together, once every one of them is this far.
  try {
    await createKafkaClient(config.kafka);
  } catch (error) {
    clearInterval(statusTimer);
    return failStart(EXIT_FAILURE, `tributary: start-up failed: ${errorMessage(error)}`);
  }
  send({ type: 'loaded' });
  await toldToJoin;
  if (stopRequested) {
    // told to stop before it joined anything: nothing to drain
    clearInterval(statusTimer);
    logger.info('worker stopped before it started');
    exit(EXIT_OK);
    return;
  }

  try {
    await app.start();
  } catch (error) {
    clearInterval(statusTimer);
    if (error instanceof ConfigError) return failStart(EXIT_USAGE, formatConfigError(error));
    const topics = [
      ...new Set(loaded.pipelines.flatMap(({ pipeline }) => [...pipeline.source.topics, pipeline.deadLetter.topic])),
    ];
    const problem = describeKafkaError(error, config.kafka, { topics });
    logger.error({ err: error, problem: problem.kind }, `start-up failed: ${problem.message}`);
    return failStart(EXIT_FAILURE, `tributary: start-up failed: ${problem.message}`);
  }
  started = true;
  send({ type: 'started' });
  if (stopRequested) await stop('asked while starting');
}

main().catch((error: unknown) => {
  process.stderr.write(`tributary worker: ${errorMessage(error)}\n`);
  exit(EXIT_FAILURE);
});
