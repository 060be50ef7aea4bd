/**
 * `npm run demo [-- --rate 200 --duration 30s --partitions 3]`
 *
 * Runs every pipeline shipped in pipelines/ in one engine against Kafka (KAFKA_BROKERS, else a broker already
 * answering on 127.0.0.1:9092, else the local broker started with `startLocalBroker()`), creates their topics, serves
 * /metrics, /healthz and /readyz, and drives the pipelines with realistic events (about 1% malformed or invalid).
 * Prints one line per second (records/s in and out, dead letters, consumer lag, in-flight) and, on Ctrl-C or when
 * --duration is over, stops gracefully (drain, commit) and prints a summary. Logs go to .tributary/demo.log.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createEngineMetrics, createRegistry } from '../metrics/index.js';
import { ConfigError } from '../src/config/configError.js';
import { startHttpServer } from '../src/http/server.js';
import { createEngine, createKafkajsClient, errorMessage, type Pipeline, type TopicSpec } from '../src/index.js';
import { createLogger } from '../src/logger.js';
import { describeCluster, projectRoot, startLocalBroker } from './kafka/localBroker.js';
import { createLoadGenerator, runLoad } from './loadGenerator.js';

const DEFAULT_HTTP_PORT = 9464;

interface DemoArgs {
  rate: number;
  durationMs: number | undefined;
  partitions: number;
}

/** "30s", "2m", "1500ms", "45" (seconds). */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`--duration: expected e.g. 30s, 2m, 1500ms, got "${text}"`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit] ?? 1000;
  return Math.round(value * factor);
}

function args(): DemoArgs {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '200' },
      duration: { type: 'string' },
      partitions: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('npm run demo -- [--rate 200] [--duration 30s] [--partitions 3]');
    console.log('  --rate        records per second the load generator sends (default 200)');
    console.log('  --duration    stop after this long (30s, 2m, 1500ms); default: until Ctrl-C');
    console.log('  --partitions  partitions of the topics the demo creates (default 3)');
    console.log('  env: KAFKA_BROKERS (else 127.0.0.1:9092 or the local broker), HTTP_PORT (default 9464), LOG_LEVEL');
    process.exit(0);
  }
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`--rate: expected a positive number, got "${values.rate}"`);
  const partitions = Number(values.partitions);
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new Error(`--partitions: expected a positive integer, got "${values.partitions}"`);
  }
  return { rate, durationMs: values.duration === undefined ? undefined : parseDuration(values.duration), partitions };
}

interface Shipped {
  pipelines: Pipeline<unknown>[];
  topics: TopicSpec[];
  files: string[];
}

function isPipeline(value: unknown): value is Pipeline<unknown> {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tributary.pipeline';
}

/**
 * Every pipeline in pipelines/*.ts: a module's default export when it is a pipeline, else its named exports that are
 * (the CLI's rule), plus the topics a module declares in an exported `topics: TopicSpec[]`.
 */
async function loadShipped(partitions: number): Promise<Shipped> {
  const folder = join(projectRoot, 'pipelines');
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !/\.(test|spec)\.ts$/.test(f))
    .sort();
  const byName = new Map<string, Pipeline<unknown>>();
  const topics = new Map<string, TopicSpec>();
  const used: string[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(folder, file)).href)) as Record<string, unknown>;
    const found = isPipeline(module.default)
      ? [module.default]
      : Object.entries(module)
          .filter(([name, value]) => name !== 'default' && isPipeline(value))
          .map(([, value]) => value as Pipeline<unknown>);
    for (const pipeline of found) {
      if (byName.has(pipeline.name)) throw new Error(`two shipped pipelines are named "${pipeline.name}"`);
      byName.set(pipeline.name, pipeline);
      for (const topic of [...pipeline.source.topics, pipeline.deadLetter.topic]) {
        if (!topics.has(topic)) topics.set(topic, { topic, partitions });
      }
    }
    if (found.length > 0) used.push(relative(projectRoot, join(folder, file)));
    if (Array.isArray(module.topics)) {
      for (const spec of module.topics as TopicSpec[]) {
        if (!topics.has(spec.topic)) topics.set(spec.topic, { topic: spec.topic, partitions });
      }
    }
  }
  return { pipelines: [...byName.values()], topics: [...topics.values()], files: used };
}

/** KAFKA_BROKERS, else a broker answering on 127.0.0.1:9092, else the local broker (started, or reused). */
async function brokers(): Promise<{ brokers: string[]; source: string }> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv) return { brokers: fromEnv.split(',').map((b) => b.trim()), source: 'KAFKA_BROKERS' };
  if ((await describeCluster('127.0.0.1:9092')) !== undefined) {
    return { brokers: ['127.0.0.1:9092'], source: 'the broker already running on 127.0.0.1:9092' };
  }
  console.log('starting the local Kafka broker (first run fetches Kafka from Maven Central) …');
  const broker = await startLocalBroker({ log: (line) => console.log(`  ${line}`) });
  return {
    brokers: [broker.bootstrap],
    source: `the local broker (pid ${broker.pid}, ready in ${broker.startupMs} ms; \`npm run kafka:stop\` stops it)`,
  };
}

type MetricJson = { name: string; values: { value: number; labels: Record<string, string | number> }[] };

function sum(
  metrics: readonly MetricJson[],
  name: string,
  where: (labels: Record<string, string | number>) => boolean = () => true,
) {
  const metric = metrics.find((m) => m.name === name);
  return (metric?.values ?? []).filter((v) => where(v.labels)).reduce((total, v) => total + v.value, 0);
}

const pad = (value: number | string, width: number) => String(value).padStart(width);

async function main(): Promise<number> {
  const options = args();
  mkdirSync(join(projectRoot, '.tributary'), { recursive: true });
  const logFile = join(projectRoot, '.tributary', 'demo.log');
  const logger = createLogger({
    level: (process.env.LOG_LEVEL?.toLowerCase() as 'info' | undefined) ?? 'info',
    destination: pino.destination({ dest: logFile, sync: false, mkdir: true }),
    pretty: false,
  });

  const shipped = await loadShipped(options.partitions);
  const kafka = await brokers();
  const client = createKafkajsClient({ brokers: kafka.brokers, clientId: 'tributary-demo', logger });
  const admin = client.admin();
  await admin.connect();
  const created = await admin.createTopics(shipped.topics);

  const registry = createRegistry();
  const metrics = createEngineMetrics(registry, { lagSource: admin, lagCacheMs: 900 });
  // Snappy, as the video seed's producer uses (kafkajs-snappy, registered by the kafkajs adapter)
  const engine = createEngine({
    pipelines: shipped.pipelines,
    kafka: { client },
    logger,
    observer: metrics.observer,
    producer: { compression: 'snappy' },
  });

  let http: Awaited<ReturnType<typeof startHttpServer>>;
  const wanted = Number(process.env.HTTP_PORT ?? DEFAULT_HTTP_PORT);
  const readiness = () => engine.status();
  try {
    http = await startHttpServer({ port: wanted, registry, readiness, logger });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    http = await startHttpServer({ port: 0, registry, readiness, logger });
    console.log(`port ${wanted} is taken (HTTP_PORT); serving metrics on free port ${http.port} instead`);
  }

  console.log(`Kafka: ${kafka.brokers.join(',')} (${kafka.source})`);
  console.log(`pipelines (${shipped.pipelines.length}, from ${shipped.files.join(', ')}):`);
  for (const p of shipped.pipelines) {
    console.log(
      `  ${p.name.padEnd(22)} ${p.source.topics.join(', ')} → group ${p.source.groupId}, dead letters ${p.deadLetter.topic}`,
    );
  }
  console.log(`topics: ${shipped.topics.length} (${created.length} created now)`);
  console.log(`metrics: http://127.0.0.1:${http.port}/metrics   readiness: http://127.0.0.1:${http.port}/readyz`);
  console.log(`logs: ${relative(process.cwd(), logFile) || logFile}`);

  const startedAt = performance.now();
  await engine.start();
  const readyBy = Date.now() + 60_000;
  while (!engine.status().ready && Date.now() < readyBy) await new Promise((done) => setTimeout(done, 200));
  metrics.ready(engine.status().ready);
  console.log(
    engine.status().ready
      ? `all pipelines joined their groups in ${Math.round(performance.now() - startedAt)} ms`
      : `not ready after 60 s: ${engine.status().reasons.join('; ')}`,
  );

  const producer = client.producer({ compression: 'snappy' });
  await producer.connect();
  const generator = createLoadGenerator();
  let sendErrors = 0;
  const load = runLoad({
    generator,
    send: (records) => producer.send(records),
    rate: options.rate,
    ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }),
    onError: (error) => {
      sendErrors++;
      logger.warn({ err: error }, 'load generator: send failed');
    },
  });
  console.log(
    `load: ${options.rate} records/s, ${options.durationMs === undefined ? 'until Ctrl-C' : `for ${options.durationMs / 1000} s`} (about 1% malformed or invalid)`,
  );
  console.log('');
  console.log('sent: by the generator; consumed and produced: by all pipelines (a record goes through several)');
  console.log('  time │ sent/s │ consumed/s │ produced/s │ dead letters │  lag │ in-flight');

  let stopping: 'signal' | 'duration' | undefined;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((done) => {
    wake = done;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.log(`${signal} again: exiting without the graceful stop`);
      process.exit(130);
    }
    stopping = 'signal';
    console.log(`\n${signal}: stopping gracefully (Ctrl-C again to force)`);
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  void load.done.then(() => {
    if (!stopping) {
      stopping = 'duration';
      wake();
    }
  });

  let last = { at: performance.now(), sent: 0, consumed: 0, produced: 0 };
  const sample = async () => {
    const json = (await registry.getMetricsAsJSON()) as unknown as MetricJson[];
    const status = engine.status();
    return {
      consumed: sum(json, 'tributary_records_consumed_total'),
      produced: sum(json, 'tributary_producer_records_total', (l) => l.result === 'ok'),
      deadLetters: sum(json, 'tributary_records_processed_total', (l) => l.outcome === 'dead_lettered'),
      lag: sum(json, 'tributary_consumer_lag_records'),
      inFlight: status.pipelines.reduce((n, p) => n + p.inFlight, 0),
      ready: status.ready,
      json,
    };
  };
  const tick = setInterval(() => {
    void sample().then((s) => {
      const now = performance.now();
      const seconds = (now - last.at) / 1000;
      const rate = (value: number, before: number) => Math.round((value - before) / seconds);
      const sent = load.sent; // records the broker acknowledged
      const line = [
        pad(`${Math.round((now - startedAt) / 1000)}s`, 6),
        pad(rate(sent, last.sent), 6),
        pad(rate(s.consumed, last.consumed), 10),
        pad(rate(s.produced, last.produced), 10),
        pad(s.deadLetters, 12),
        pad(s.lag, 4),
        pad(s.inFlight, 9),
      ].join(' │ ');
      console.log(line);
      metrics.ready(s.ready);
      last = { at: now, sent, consumed: s.consumed, produced: s.produced };
    });
  }, 1000);

  await stopped;
  clearInterval(tick);
  await load.stop();
  // let the pipelines catch up with what was sent (at most 10 s), then stop: drain in-flight, commit, disconnect
  const drainBy = Date.now() + 10_000;
  while (Date.now() < drainBy && stopping === 'duration') {
    const s = await sample();
    if (s.lag === 0 && s.inFlight === 0) break;
    await new Promise((done) => setTimeout(done, 250));
  }
  const beforeStop = await sample();
  await engine.stop();
  metrics.ready(false);
  await producer.disconnect();
  await http.close();
  const final = beforeStop.json;
  await admin.disconnect();

  const elapsed = (performance.now() - startedAt) / 1000;
  console.log('');
  console.log(`summary (${elapsed.toFixed(1)} s, stopped by ${stopping === 'signal' ? 'signal' : '--duration'})`);
  const stats = generator.stats;
  console.log(
    `  generated ${stats.records} records (${stats.malformed} malformed or invalid, ${stats.duplicates} duplicates); sent ${load.sent}${sendErrors ? `, ${load.failed} failed to send` : ''}`,
  );
  for (const [topic, count] of Object.entries(stats.byTopic).sort())
    console.log(`    ${topic.padEnd(28)} ${pad(count, 7)}`);
  console.log(
    `  consumed ${sum(final, 'tributary_records_consumed_total')}, produced ${sum(final, 'tributary_producer_records_total', (l) => l.result === 'ok')}, retries ${sum(final, 'tributary_retries_total')}, lag at stop ${beforeStop.lag}`,
  );
  console.log('  outcomes per pipeline   published  dead_lettered  filtered     sunk');
  for (const p of shipped.pipelines) {
    const of = (outcome: string) =>
      sum(final, 'tributary_records_processed_total', (l) => l.pipeline === p.name && l.outcome === outcome);
    console.log(
      `    ${p.name.padEnd(22)} ${pad(of('published'), 9)} ${pad(of('dead_lettered'), 14)} ${pad(of('filtered'), 9)} ${pad(of('sunk'), 8)}`,
    );
  }
  console.log('  stopped gracefully: in-flight records drained, offsets committed');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    process.stdout.write('', () => process.exit(code));
  },
  (error: unknown) => {
    console.error(`demo: ${errorMessage(error)}`);
    if (error instanceof ConfigError || process.env.LOG_LEVEL === 'debug') console.error(error);
    process.exit(1);
  },
);
