/**
 * The engine runs many pipelines in one process: one consumer per pipeline, one shared batching producer. It starts
 * them, reports readiness, and stops them gracefully (stop admitting, drain, commit, disconnect).
 */
import type { Logger } from 'pino';
import { type CancelTimer, type Clock, systemClock } from '../clock.js';
import { TributaryError } from '../errors.js';
import { type EngineObserver, noopObserver } from '../instrumentation.js';
import { createKafkaClient } from '../kafka/createKafkaClient.js';
import type { KafkaConnectionConfig } from '../kafka/kafkajsClient.js';
import type { KafkaClientPort, ProducerPort } from '../kafka/ports.js';
import { createLogger } from '../logger.js';
import type { Pipeline } from './definePipeline.js';
import { DestinationCheck, staticDestinations } from './destinationCheck.js';
import { PipelineRunner, type RunnerState } from './pipelineRunner.js';
import { ProducerBatcher } from './producerBatcher.js';

export interface EngineOptions {
  /** Pipelines of any output type run side by side. */
  pipelines: readonly Pipeline<unknown>[];
  /**
   * How to reach Kafka: connection settings (`library` picks the client: 'platformatic' by default, or 'kafkajs'), or a
   * ready client port (tests).
   */
  kafka: KafkaConnectionConfig | { client: KafkaClientPort };
  /** Default: `createLogger()` (JSON lines on stdout, as `tributary run` writes them). */
  logger?: Logger;
  observer?: EngineObserver;
  producer?: { compression?: 'none' | 'gzip' | 'snappy'; maxBatchRecords?: number };
  /** On SIGTERM/SIGINT: stop gracefully, then exit(0) (exit 1 if stopping failed). Default false. */
  handleSignals?: boolean;
  /**
   * For tests: the clock every timer and duration of the engine runs on (commit intervals, backoffs, timeouts, the
   * watchdog). Default: the system clock. The test driver passes a virtual one.
   */
  clock?: Clock;
}

export interface PipelineStatus {
  name: string;
  state: RunnerState;
  ready: boolean;
  inFlight: number;
  /** Partitions paused by the second line of backpressure. */
  pausedPartitions: number;
  assignment: string[];
}

export interface EngineStatus {
  ready: boolean;
  reasons: string[];
  pipelines: PipelineStatus[];
}

export interface Engine {
  start(): Promise<void>;
  /** Graceful: stop admitting, drain up to each pipeline's drainTimeoutMs, commit, disconnect. */
  stop(): Promise<void>;
  /** Immediate: no drain and no final commit. What a crash looks like, for tests. */
  abort(): Promise<void>;
  status(): EngineStatus;
}

/**
 * Pipelines of one engine must differ in name and in consumer group: two pipelines in one group split one set of
 * partitions between them, and kafkajs' assignor gives a member only the topics its group's leader subscribes to — the
 * other pipeline's topics are consumed by nobody.
 */
function checkDistinct(pipelines: readonly Pick<Pipeline, 'name' | 'source'>[]): void {
  const names = new Set<string>();
  const groups = new Map<string, string>();
  for (const p of pipelines) {
    if (names.has(p.name)) {
      throw new TributaryError(
        'TRIBUTARY_ERR_PIPELINE_DEFINITION',
        `two pipelines are named "${p.name}"; names must be unique`,
      );
    }
    names.add(p.name);
    const other = groups.get(p.source.groupId);
    if (other !== undefined) {
      throw new TributaryError(
        'TRIBUTARY_ERR_PIPELINE_DEFINITION',
        `pipelines "${other}" and "${p.name}" share the consumer group "${p.source.groupId}"; each pipeline needs a group of its own (in one group, one of them would be assigned nothing)`,
      );
    }
    groups.set(p.source.groupId, p.name);
  }
}

export function createEngine(options: EngineOptions): Engine {
  const logger = options.logger ?? createLogger();
  const observer = options.observer ?? noopObserver;
  const clock = options.clock ?? systemClock;
  checkDistinct(options.pipelines);
  let producerPort: ProducerPort | undefined;
  let producerConnected = false;
  let batcher: ProducerBatcher | undefined;
  let runners: PipelineRunner[] = [];
  let destinations: DestinationCheck | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  const signalHandlers: [NodeJS.Signals, () => void][] = [];

  const removeSignalHandlers = () => {
    for (const [signal, handler] of signalHandlers) process.off(signal, handler);
    signalHandlers.length = 0;
  };

  const finish = async (graceful: boolean) => {
    destinations?.stop();
    const results = await Promise.allSettled(runners.map((r) => (graceful ? r.stop() : r.abort())));
    if (batcher && graceful) {
      let cancelTimeout: CancelTimer | undefined;
      const timeout = new Promise<void>((done) => {
        cancelTimeout = clock.setTimeout(done, 10_000);
      });
      await Promise.race([batcher.idle(), timeout]);
      cancelTimeout?.(); // no timer left behind on a virtual clock
    }
    batcher?.close();
    if (producerPort) {
      await producerPort
        .disconnect()
        .catch((error: unknown) => logger.warn({ err: error }, 'producer disconnect failed'));
    }
    producerConnected = false;
    removeSignalHandlers();
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  };

  const engine: Engine = {
    async start() {
      if (started) throw new Error('engine already started');
      started = true;
      const kafka = options.kafka;
      const client = 'client' in kafka ? kafka.client : await createKafkaClient({ logger, ...kafka });
      producerPort = client.producer(
        options.producer?.compression ? { compression: options.producer.compression } : {},
      );
      await producerPort.connect();
      producerConnected = true;
      batcher = new ProducerBatcher(producerPort, {
        observer,
        logger,
        clock,
        ...(options.producer?.maxBatchRecords ? { maxBatchRecords: options.producer.maxBatchRecords } : {}),
      });
      const deps = { client, producer: batcher, logger, observer, clock };
      // the runners exist (idle, so not ready) before anything is awaited: status() never sees an engine without them
      runners = options.pipelines.map((p) => new PipelineRunner(p, deps));
      destinations = new DestinationCheck(client, staticDestinations(options.pipelines), logger, { clock });
      await destinations.start();
      try {
        for (const runner of runners) await runner.start();
      } catch (error) {
        await finish(false).catch(() => {});
        throw error;
      }
      if (options.handleSignals) {
        for (const signal of ['SIGTERM', 'SIGINT'] as const) {
          const handler = () => {
            logger.info({ signal }, 'signal received: stopping gracefully');
            engine.stop().then(
              () => process.exit(0),
              (error: unknown) => {
                logger.error({ err: error }, 'graceful stop failed');
                process.exit(1);
              },
            );
          };
          process.once(signal, handler);
          signalHandlers.push([signal, handler]);
        }
      }
      logger.info({ pipelines: runners.map((r) => r.pipeline.name) }, 'engine started');
    },
    stop() {
      stopping ??= finish(true).then(() => logger.info('engine stopped'));
      return stopping;
    },
    abort() {
      stopping ??= finish(false);
      return stopping;
    },
    status() {
      const pipelines = runners.map((r) => ({
        name: r.pipeline.name,
        state: r.state,
        ready: r.ready,
        inFlight: r.inFlight,
        pausedPartitions: r.pausedPartitions,
        assignment: r.assignment.map((tp) => `${tp.topic}/${tp.partition}`),
      }));
      const reasons: string[] = [];
      if (!started) reasons.push('engine not started');
      if (stopping) reasons.push('engine stopping');
      if (started && !producerConnected) reasons.push('producer not connected');
      const missing = destinations?.missing ?? [];
      if (missing.length > 0) reasons.push(`destination topics missing: ${missing.join(', ')}`);
      for (const runner of runners) {
        const reason = runner.notReadyReason;
        if (reason !== undefined) reasons.push(`pipeline ${runner.pipeline.name}: ${reason}`);
      }
      return { ready: reasons.length === 0, reasons, pipelines };
    },
  };
  return engine;
}
