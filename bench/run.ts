/**
 * `npm run bench [-- options]`: the core-engine benchmark. Starts (or uses) a broker, preloads the input, runs each
 * variant in its own child process, prints the results as markdown and writes them into bench/README.md.
 *
 * Main table (the workload, README "Workload"): Tributary, a kafkajs hand loop, Kafka Streams and ConsumerPerformance on
 * the same records. Secondary tables: the passthrough (raw loop vs Tributary), its latency, the ordering run.
 *
 * Options: --records N (default 1,000,000) · --quick (= --records 100000, shorter latency runs) ·
 * --contenders tributary,kafkajs,streams,ceiling · --workload-rate 5000 · --workload-latency-seconds 20 ·
 * --workload-warmup-seconds 10 ·
 * --streams-threads N (default: the machine's cores) · --port N (the bench's own broker, default 29092) ·
 * --max-in-flight 1000[,5000,…] (default: the engine's default; the first is the one compared and used for latency and
 * ordering) · --repeat N (throughput runs of each workload contender and passthrough variant, in turn; the tables
 * and ratios use the median runs) ·
 * --rate 2000 · --latency-seconds 20 · --ordering-records 20000 · --only workload,throughput,latency,ordering ·
 * --profile (CPU-profile each throughput child, print where the time goes) · --no-readme ·
 * --wait-quiet (before each measurement, wait up to 5 min for other work on the machine to drop below 20% CPU).
 * `--render <.tributary/bench-results/<id>.json>` re-renders a saved run's tables into bench/README.md.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { KAFKA_VERSION, startLocalBroker, stopLocalBroker } from '../scripts/kafka/localBroker.js';
import { DEFAULT_MAX_IN_FLIGHT } from '../src/runtime/definePipeline.js';
import { compileVariants, repoRoot, spawnVariant, type VariantProcess } from './child.js';
import { LATENCY_TOPIC_CONFIG, measureLatency } from './latency.js';
import { formatSummary, summarize } from './profileSummary.js';
import { type LatencyRow, machine, type OrderingRow, type Report, renderResults, writeReadme } from './report.js';
import { benchKafka, createTopics, PARTITIONS, preload, runId, waitForQuiet } from './support.js';
import type { VariantArgs, VariantResult } from './variant.js';
import { CONTENDERS } from './workload/contenders.js';
import { javaVersion } from './workload/javaContenders.js';
import { runWorkload } from './workload/runWorkload.js';

type Part = 'workload' | 'throughput' | 'latency' | 'ordering';
const PARTS: readonly Part[] = ['workload', 'throughput', 'latency', 'ordering'];

interface Options {
  records: number;
  quick: boolean;
  /** Throughput runs of each variant (alternating); the ratio uses the medians. */
  repeat: number;
  maxInFlight: number[];
  rate: number;
  latencySeconds: number;
  warmupSeconds: number;
  orderingRecords: number;
  orderingKeys: number;
  workMs: number;
  users: number;
  only: Set<Part>;
  profile: boolean;
  readme: boolean;
  /** Before each measured child, wait (up to 5 min) until other work uses < 20% of the machine. */
  waitQuiet: boolean;
  /** The workload's latency runs: paced input rate and measured seconds. */
  workloadRate: number;
  workloadLatencySeconds: number;
  /** Paced input before the workload's latency window, not counted: long enough for a JVM's JIT to settle. */
  workloadWarmupSeconds: number;
  /** Workload contenders to run (ids of bench/workload/contenders.ts). */
  contenders: Set<string>;
  streamsThreads: number;
  /** Port of the bench's own broker (when KAFKA_BROKERS is not set). */
  port: number;
}

function parseOptions(argv: readonly string[]): Options {
  const o: Options = {
    records: 1_000_000,
    quick: false,
    repeat: 1,
    maxInFlight: [DEFAULT_MAX_IN_FLIGHT],
    rate: 2000,
    latencySeconds: 20,
    warmupSeconds: 3,
    orderingRecords: 20_000,
    orderingKeys: 1000,
    workMs: 5,
    users: 10_000,
    only: new Set<Part>(PARTS),
    profile: false,
    readme: true,
    waitQuiet: false,
    workloadRate: 5000,
    workloadLatencySeconds: 20,
    workloadWarmupSeconds: 10,
    contenders: new Set(CONTENDERS.map((c) => c.id)),
    streamsThreads: availableParallelism(),
    port: BENCH_PORT,
  };
  let recordsGiven = false;
  const positive = (flag: string, value: string | undefined): number => {
    const n = Number(value?.replaceAll('_', ''));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer, got "${value}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case '--records':
        o.records = positive(flag, value);
        recordsGiven = true;
        i++;
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--repeat':
        o.repeat = positive(flag, value);
        i++;
        break;
      case '--max-in-flight':
        o.maxInFlight = (value ?? '').split(',').map((v) => positive(flag, v));
        i++;
        break;
      case '--rate':
        o.rate = positive(flag, value);
        i++;
        break;
      case '--latency-seconds':
        o.latencySeconds = positive(flag, value);
        i++;
        break;
      case '--ordering-records':
        o.orderingRecords = positive(flag, value);
        i++;
        break;
      case '--only': {
        const parts = (value ?? '').split(',');
        for (const p of parts) {
          if (!PARTS.includes(p as Part)) throw new Error(`--only: unknown part "${p}" (${PARTS.join(', ')})`);
        }
        o.only = new Set(parts as Part[]);
        i++;
        break;
      }
      case '--contenders': {
        const ids = (value ?? '').split(',');
        for (const id of ids) {
          if (!CONTENDERS.some((c) => c.id === id)) {
            throw new Error(`--contenders: unknown "${id}" (${CONTENDERS.map((c) => c.id).join(', ')})`);
          }
        }
        o.contenders = new Set(ids);
        i++;
        break;
      }
      case '--workload-rate':
        o.workloadRate = positive(flag, value);
        i++;
        break;
      case '--workload-latency-seconds':
        o.workloadLatencySeconds = positive(flag, value);
        i++;
        break;
      case '--workload-warmup-seconds':
        o.workloadWarmupSeconds = positive(flag, value);
        i++;
        break;
      case '--streams-threads':
        o.streamsThreads = positive(flag, value);
        i++;
        break;
      case '--port':
        o.port = positive(flag, value);
        i++;
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--wait-quiet':
        o.waitQuiet = true;
        break;
      case '--no-readme':
        o.readme = false;
        break;
      default:
        throw new Error(`unknown option ${flag}; see the top of bench/run.ts`);
    }
  }
  if (o.quick) {
    if (!recordsGiven) o.records = 100_000;
    o.latencySeconds = Math.min(o.latencySeconds, 10);
    o.workloadLatencySeconds = Math.min(o.workloadLatencySeconds, 10);
  }
  return o;
}

interface Broker {
  brokers: string[];
  clusterId: string;
  kafkaVersion: string;
  started: boolean;
  pid?: number;
  release(): Promise<void>;
}

const BENCH_PORT = 29092;

async function acquireBroker(port: number): Promise<Broker> {
  const env = process.env.KAFKA_BROKERS?.trim();
  if (env) {
    const brokers = env.split(',').map((b) => b.trim());
    const admin = benchKafka(brokers, 'bench-probe').admin();
    await admin.connect();
    const { clusterId } = await admin.describeCluster();
    await admin.disconnect();
    return { brokers, clusterId, kafkaVersion: 'unknown (KAFKA_BROKERS)', started: false, release: async () => {} };
  }
  // Kafka's default initial rebalance delay (3 s), not the tests' 0: the 2 workers of (a''') start together and join
  // one generation, as they do on a production broker, instead of a second worker's join costing a rebalance
  const options = {
    port,
    stateDir: join(repoRoot, '.tributary', `kafka-bench-${port}`),
    initialRebalanceDelayMs: 3000,
  };
  log(`starting the local broker on 127.0.0.1:${port} (state in ${options.stateDir}) …`);
  const broker = await startLocalBroker({ ...options, log });
  return {
    brokers: [broker.bootstrap],
    clusterId: broker.clusterId,
    kafkaVersion: KAFKA_VERSION,
    started: true,
    pid: broker.pid,
    release: async () => {
      const stopped = await stopLocalBroker(options);
      log(
        stopped.stopped ? `local broker (pid ${stopped.pid}) stopped` : `local broker not stopped: ${stopped.reason}`,
      );
      // the broker removes deleted topics' segments lazily: drop its data dir (the broker log stays)
      if (stopped.stopped) rmSync(join(options.stateDir, 'data'), { recursive: true, force: true });
    },
  };
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  log('compiling the variants (bench/tsconfig.json → .tributary/bench-build) …');
  compileVariants();
  const broker = await acquireBroker(options.port);
  log(`broker ${broker.brokers.join(',')} · cluster id ${broker.clusterId} · Kafka ${broker.kafkaVersion}`);
  let report: Report;
  let profiles: { label: string; dir: string }[];
  try {
    ({ report, profiles } = await measure(options, command, broker));
  } finally {
    await broker.release().catch((e: unknown) => log(`stopping the broker failed: ${e}`));
  }

  const results = renderResults(report);
  console.log(`\n${results}\n`);
  for (const p of profiles) {
    for (const file of readdirSync(p.dir).filter((f) => f.endsWith('.cpuprofile'))) {
      console.log(`${formatSummary(`${p.label} (${join(p.dir, file)})`, summarize(join(p.dir, file), 20))}\n`);
    }
  }
  const jsonFile = join(repoRoot, '.tributary', 'bench-results', `${report.runId}.json`);
  mkdirSync(dirname(jsonFile), { recursive: true });
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  log(`raw results (with each run's progress samples) in ${jsonFile}`);
  if (options.readme) {
    writeReadme(join(repoRoot, 'bench', 'README.md'), results);
    log('results written to bench/README.md');
  }
}

/** Everything that needs the broker: topics, preloads, the variants; deletes the topics and groups at the end. */
async function measure(
  options: Options,
  command: string,
  broker: Broker,
): Promise<{ report: Report; profiles: { label: string; dir: string }[] }> {
  const kafka = benchKafka(broker.brokers, 'bench-orchestrator');
  const admin = kafka.admin();
  await admin.connect();
  // a fresh broker loads its coordinators on first use: do that now rather than inside the first measurement
  const warm = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await warm.connect();
  await warm.disconnect();
  const id = runId();
  const topics: string[] = [];
  const groups: string[] = [];
  const profileDir = join(repoRoot, '.tributary', 'bench-profiles', id);
  const [chosen] = options.maxInFlight;
  if (chosen === undefined) throw new Error('--max-in-flight needs at least one value');
  const report: Report = {
    runId: id,
    command,
    machine: { ...machine(broker.kafkaVersion), java: javaVersion() },
    broker: { bootstrap: broker.brokers.join(','), clusterId: broker.clusterId, started: broker.started },
    throughput: [],
    chosenMaxInFlight: chosen,
    latency: [],
    ordering: [],
  };
  const profiles: { label: string; dir: string }[] = [];
  let current: VariantProcess | undefined;
  let killCurrent: (() => void) | undefined;
  const onSignal = () => {
    log('interrupted: stopping the current variant, then cleaning up');
    current?.process.kill('SIGTERM');
    killCurrent?.();
    process.exitCode = 130;
  };
  process.once('SIGINT', onSignal);

  const topic = async (name: string, partitions = PARTITIONS, config?: Record<string, string>): Promise<string> => {
    const t = `bench-${id}-${name}`;
    await createTopics(admin, [{ topic: t, partitions, config }]);
    topics.push(t);
    return t;
  };
  const group = (name: string): string => {
    const g = `bench-${id}-${name}`;
    groups.push(g);
    return g;
  };
  const base = (input: string, output: string, dlq: string, groupId: string, records: number): VariantArgs => ({
    mode: 'throughput',
    brokers: broker.brokers,
    input,
    output,
    dlq,
    groupId,
    records,
    maxInFlight: chosen,
    ordering: 'partition',
    workMs: 0,
    ...(broker.pid === undefined ? {} : { brokerPid: broker.pid }),
  });
  const runChild = async (
    script: string,
    args: VariantArgs,
    profileLabel?: string,
    nodeOptions?: readonly string[],
  ): Promise<VariantResult> => {
    let cpuProfDir: string | undefined;
    if (options.profile && profileLabel) {
      cpuProfDir = join(profileDir, profileLabel);
      mkdirSync(cpuProfDir, { recursive: true });
      profiles.push({ label: profileLabel, dir: cpuProfDir });
    }
    if (options.waitQuiet) await waitForQuiet(0.2, 300_000, log);
    current = spawnVariant(script, args, {
      ...(cpuProfDir ? { cpuProfDir } : {}),
      ...(nodeOptions ? { nodeOptions } : {}),
    });
    try {
      return await current.result();
    } finally {
      current = undefined;
    }
  };

  try {
    if (options.only.has('workload')) {
      report.workload = await runWorkload(
        {
          kafka,
          admin,
          brokers: broker.brokers,
          ...(broker.pid === undefined ? {} : { brokerPid: broker.pid }),
          topic,
          group,
          runNode: (script, args, nodeOptions) =>
            runChild(script, args, options.profile ? `workload-${args.groupId}` : undefined, nodeOptions),
          serveNode: (script, args, nodeOptions) => spawnVariant(script, args, nodeOptions ? { nodeOptions } : {}),
          beforeMeasure: async () => {
            if (options.waitQuiet) await waitForQuiet(0.2, 300_000, log);
          },
          track: (kill) => {
            killCurrent = kill;
          },
          log,
        },
        {
          records: options.records,
          rate: options.workloadRate,
          latencySeconds: options.workloadLatencySeconds,
          warmupSeconds: options.workloadWarmupSeconds,
          streamsThreads: options.streamsThreads,
          commitIntervalMs: 1000,
          contenders: options.contenders,
          throughput: true,
          latency: true,
          maxInFlight: chosen,
          rounds: options.repeat,
        },
      );
    }

    const dlq = await topic('dlq', 1);

    if (options.only.has('throughput')) {
      const input = await topic('in');
      log(`preloading ${fmt(options.records)} records into ${input} …`);
      const seconds = await preload(kafka, input, options.records, { users: options.users });
      report.preload = { records: options.records, seconds };
      log(`preloaded in ${seconds.toFixed(1)} s (${fmt(options.records / seconds)} records/s)`);

      for (let run = 1; run <= options.repeat; run++) {
        const n = options.repeat > 1 ? ` #${run}` : '';
        log(`(a) raw kafkajs loop${n} …`);
        const raw = await runChild(
          'rawLoop.ts',
          base(input, await topic(`raw-out-${run}`), dlq, group(`raw-${run}`), options.records),
          `rawLoop-${run}`,
        );
        report.throughput.push({ label: `(a) raw kafkajs eachBatch loop${n}`, result: raw });
        log(`(a) ${fmt(raw.recordsPerSecond)} records/s, peak RSS ${raw.peakRssMb.toFixed(0)} MB`);

        for (const maxInFlight of options.maxInFlight) {
          log(`(b) Tributary passthrough, maxInFlight ${maxInFlight}${n} …`);
          const result = await runChild(
            'tributaryPassthrough.ts',
            {
              ...base(
                input,
                await topic(`trib-${maxInFlight}-out-${run}`),
                dlq,
                group(`trib-${maxInFlight}-${run}`),
                options.records,
              ),
              maxInFlight,
            },
            `tributary-${maxInFlight}-${run}`,
          );
          report.throughput.push({ label: `(b) Tributary, maxInFlight ${maxInFlight}${n}`, maxInFlight, result });
          log(
            `(b) ${fmt(result.recordsPerSecond)} records/s (${(result.recordsPerSecond / raw.recordsPerSecond).toFixed(2)}× raw), ` +
              `peak RSS ${result.peakRssMb.toFixed(0)} MB`,
          );
        }
      }
    }

    if (options.only.has('latency')) {
      const config = { rate: options.rate, seconds: options.latencySeconds, warmupSeconds: options.warmupSeconds };
      report.latencyConfig = config;
      for (const [label, script, variant] of [
        ['(a) raw kafkajs eachBatch loop', 'rawLoop.ts', 'raw'],
        [`(b) Tributary, maxInFlight ${chosen}`, 'tributaryPassthrough.ts', 'trib'],
      ] as const) {
        const input = await topic(`lat-${variant}-in`, PARTITIONS, LATENCY_TOPIC_CONFIG);
        const output = await topic(`lat-${variant}-out`, PARTITIONS, LATENCY_TOPIC_CONFIG);
        log(
          `(c) latency of ${label}: ${fmt(options.rate)} records/s for ${config.warmupSeconds} + ${config.seconds} s …`,
        );
        if (options.waitQuiet) await waitForQuiet(0.2, 300_000, log);
        const child = spawnVariant(script, { ...base(input, output, dlq, group(`lat-${variant}`), 0), mode: 'serve' });
        current = child;
        let latency: LatencyRow['latency'];
        try {
          await child.ready();
          latency = await measureLatency(kafka, { input, output, users: options.users, ...config });
        } finally {
          child.stop();
        }
        const result = await child.result();
        current = undefined;
        report.latency.push({ label, latency, result });
        log(`(c) p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms`);
      }
    }

    if (options.only.has('ordering')) {
      const input = await topic('ord-in');
      log(`preloading ${fmt(options.orderingRecords)} records with ${options.orderingKeys} keys into ${input} …`);
      await preload(kafka, input, options.orderingRecords, { users: options.orderingKeys });
      for (const ordering of ['partition', 'key'] as const) {
        log(`(d) ordering '${ordering}' with ${options.workMs} ms of work per record …`);
        const result = await runChild('orderingWork.ts', {
          ...base(input, await topic(`ord-${ordering}-out`), dlq, group(`ord-${ordering}`), options.orderingRecords),
          ordering,
          workMs: options.workMs,
        });
        const row: OrderingRow = { ordering, workMs: options.workMs, keys: options.orderingKeys, result };
        report.ordering.push(row);
        log(`(d) ${ordering}: ${fmt(result.recordsPerSecond)} records/s`);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    if (topics.length > 0) {
      await admin.deleteTopics({ topics, timeout: 30_000 }).catch((e: unknown) => log(`deleting topics failed: ${e}`));
    }
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => {});
    await admin.disconnect().catch(() => {});
    log(`deleted ${topics.length} topics`);
  }
  return { report, profiles };
}

/** `tsx bench/run.ts --render <results.json>`: print and write the tables of a saved run again (no broker needed). */
function render(file: string): void {
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  const results = renderResults(report);
  console.log(`\n${results}\n`);
  writeReadme(join(repoRoot, 'bench', 'README.md'), results);
  log('results written to bench/README.md');
}

const renderFile = process.argv[2] === '--render' ? process.argv[3] : undefined;
(renderFile ? Promise.resolve().then(() => render(renderFile)) : main()).catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
