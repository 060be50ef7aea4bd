/**
 * The child-process side of a measured variant. The orchestrator spawns `node .tributary/bench-build/bench/<variant>.js '<json>'`;
 * the variant starts its pipeline and this module measures it, then prints one `BENCH_RESULT <json>` line on stdout.
 *
 * - `throughput`: the clock starts once the pipeline joined its group (start() resolved) and stops at the first
 *   poll (every 250 ms) that sees `records` records in the output topic; then it waits for the group's commits to
 *   reach the end of every input partition (reported separately) and stops the pipeline. Records already on the
 *   output when the clock starts (a CLI's first worker may have begun before /readyz) are not counted in the rate.
 * - `serve`: prints `BENCH_READY` once joined, runs until stdin closes (the orchestrator drives load meanwhile).
 */
import { availableParallelism } from 'node:os';
import {
  benchKafka,
  committedToEnd,
  highWaterMarkMb,
  MemorySampler,
  machineBusySeconds,
  pollUntil,
  processCpuSeconds,
  recordsInAll,
} from './support.js';

export interface VariantArgs {
  mode: 'throughput' | 'serve';
  brokers: string[];
  input: string;
  output: string;
  dlq: string;
  groupId: string;
  /** Records expected on the output topic (throughput mode), or on all of `countTopics` together. */
  records: number;
  /** The topics whose records count towards `records`. Default: the output topic (the workload adds its DLQ). */
  countTopics?: string[];
  maxInFlight: number;
  ordering: 'partition' | 'key';
  /** Simulated async work per record, ms (orderingWork only). */
  workMs: number;
  /** Where a Tributary variant's engine logs (warnings: one per dead-lettered record). Default: stderr. */
  logFile?: string;
  /** The broker's pid when the bench started it, to report the broker's CPU time. */
  brokerPid?: number;
}

export interface VariantResult {
  variant: string;
  mode: VariantArgs['mode'];
  records: number;
  /** Records on the counted topics at the end (output, and the DLQ for the workload). */
  outputRecords: number;
  /** Join → the poll that saw all records on the output topic. */
  seconds: number;
  /** (records − recordsBeforeClock) ÷ seconds (in results written before this field existed: records ÷ seconds). */
  recordsPerSecond: number;
  /** Records already on the counted topics when the clock started (not counted in the rate). */
  recordsBeforeClock?: number;
  /** From the call of the variant's start to its resolution (client start-up, the group join); Node variants only. */
  startSeconds?: number;
  /** Join → the poll that saw the group's commits at the end of every input partition. */
  committedSeconds: number | null;
  /**
   * The rate between the polls that first saw ≥ 10 % and ≥ 90 % of the records on the output topic: the steady state,
   * without start-up and tail. Null when fewer than two polls fall in that range.
   */
  steadyRecordsPerSecond: number | null;
  /** Every poll: [seconds since start, records on the output topic]. */
  progress: [number, number][];
  /** Peak RSS, sampled every 100 ms from process start (MiB). */
  peakRssMb: number;
  /** RSS once the modules were loaded, before the pipeline started (node + libraries). */
  startRssMb: number;
  /** Peak V8 heap in use and peak memory of Buffers outside the heap (MiB). */
  peakHeapUsedMb: number;
  peakExternalMb: number;
  /** This process's CPU time (user + system) over the measured window. */
  cpuSeconds: number;
  /** The broker's CPU time over the same window (when the bench started the broker). */
  brokerCpuSeconds: number | null;
  /** CPU time of everything else on the machine over the window (machine busy − variant − broker), when known. */
  otherCpuSeconds: number | null;
  /** Wall seconds × CPUs: the CPU time there was to share. */
  availableCpuSeconds: number;
}

/** A started variant (its start resolved once it joined its group and is consuming): stop it gracefully. */
export interface RunningPipeline {
  stop(): Promise<void>;
  /**
   * The processes doing the work when it is not this one (the CLI and its workers): the CPU time is theirs, summed,
   * and the peak RSS is the largest of theirs (the kernel's high-water mark); heap figures are then unknown (NaN).
   */
  processes?(): number[];
}

export function steadyRate(progress: readonly { at: number; count: number }[], records: number): number | null {
  const from = progress.find((p) => p.count >= 0.1 * records);
  const to = progress.find((p) => p.count >= 0.9 * records);
  if (!from || !to || to.at <= from.at) return null;
  return (to.count - from.count) / ((to.at - from.at) / 1000);
}

function parseArgs(): VariantArgs {
  const raw = process.argv[2];
  if (!raw)
    throw new Error('usage: node .tributary/bench-build/bench/<variant>.js <json args> (npm run bench compiles it)');
  return JSON.parse(raw) as VariantArgs;
}

function print(line: string): Promise<void> {
  return new Promise((done) => process.stdout.write(`${line}\n`, () => done()));
}

function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function measure(
  name: string,
  args: VariantArgs,
  start: (args: VariantArgs) => Promise<RunningPipeline>,
): Promise<VariantResult> {
  const memory = new MemorySampler();
  const kafka = benchKafka(args.brokers, `bench-${name}-admin`);
  const admin = kafka.admin();
  await admin.connect();
  const brokerCpu = () => (args.brokerPid === undefined ? undefined : processCpuSeconds(args.brokerPid));
  try {
    const called = performance.now();
    const pipeline = await start(args);
    const cpuOfWork = () =>
      pipeline.processes ? pipeline.processes().reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0) : cpuNow();
    const t0 = performance.now();
    const cpu0 = cpuOfWork();
    const broker0 = brokerCpu();
    const busy0 = machineBusySeconds();
    const before = args.mode === 'throughput' ? await recordsInAll(admin, args.countTopics ?? [args.output]) : 0;
    let t1: number;
    const progress: { at: number; count: number }[] = [];
    let committed: number | null = null;
    if (args.mode === 'serve') {
      await print('BENCH_READY');
      await new Promise<void>((done) => {
        process.stdin.on('data', () => {});
        process.stdin.once('end', done);
        process.stdin.once('close', done);
      });
      t1 = performance.now();
    } else {
      t1 = await pollUntil(
        async () => {
          const count = await recordsInAll(admin, args.countTopics ?? [args.output]);
          progress.push({ at: performance.now(), count });
          return count >= args.records;
        },
        30 * 60_000,
        `${args.records} records on ${args.output}`,
      );
    }
    const cpu1 = cpuOfWork();
    const broker1 = brokerCpu();
    const busy1 = machineBusySeconds();
    if (args.mode === 'throughput') {
      const tc = await pollUntil(() => committedToEnd(admin, args.groupId, args.input), 60_000, 'the commits').catch(
        () => undefined,
      );
      committed = tc === undefined ? null : (tc - t0) / 1000;
    }
    const external = pipeline.processes?.().map(highWaterMarkMb);
    await pipeline.stop();
    const outputRecords = await recordsInAll(admin, args.countTopics ?? [args.output]);
    const seconds = (t1 - t0) / 1000;
    const peaks = memory.peaks();
    const brokerCpuSeconds = broker0 === undefined || broker1 === undefined ? null : broker1 - broker0;
    const otherCpuSeconds =
      busy0 === undefined || busy1 === undefined || brokerCpuSeconds === null
        ? null
        : Math.max(0, busy1 - busy0 - (cpu1 - cpu0) - brokerCpuSeconds);
    return {
      variant: name,
      mode: args.mode,
      records: args.records,
      outputRecords,
      seconds,
      recordsPerSecond: args.mode === 'throughput' ? (args.records - before) / seconds : 0,
      recordsBeforeClock: before,
      startSeconds: (t0 - called) / 1000,
      steadyRecordsPerSecond: steadyRate(progress, args.records),
      progress: progress.map((p) => [Math.round(p.at - t0) / 1000, p.count]),
      committedSeconds: committed,
      peakRssMb: external ? Math.max(0, ...external) : peaks.rss,
      startRssMb: external ? Number.NaN : peaks.startRss,
      peakHeapUsedMb: external ? Number.NaN : peaks.heapUsed,
      peakExternalMb: external ? Number.NaN : peaks.external,
      cpuSeconds: cpu1 - cpu0,
      brokerCpuSeconds,
      otherCpuSeconds,
      availableCpuSeconds: seconds * availableParallelism(),
    };
  } finally {
    memory.stop();
    await admin.disconnect().catch(() => {});
  }
}

/** Runs a variant in this (child) process and exits: 0 with a result line, 1 with the error on stderr. */
export function runVariant(name: string, start: (args: VariantArgs) => Promise<RunningPipeline>): void {
  void (async () => {
    try {
      const result = await measure(name, parseArgs(), start);
      await print(`BENCH_RESULT ${JSON.stringify(result)}`);
      process.exit(0);
    } catch (error) {
      process.stderr.write(`[${name}] failed: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
      process.exit(1);
    }
  })();
}
