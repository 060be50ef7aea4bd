/**
 * The workload part of `npm run bench`: every contender consumes the same preloaded records (throughput), then
 * serves a paced input (latency), one after the other on the same broker, each in its own process.
 */

import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { repoRoot, type VariantProcess } from '../child.js';
import { LATENCY_TOPIC_CONFIG, measureLatency } from '../latency.js';
import { recordsIn, waitForQuietProcess } from '../support.js';
import type { VariantArgs, VariantResult } from '../variant.js';
import { CONTENDERS, type Contender } from './contenders.js';
import { validAmong } from './definition.js';
import {
  buildStreamsApp,
  type CeilingResult,
  type JavaProcess,
  measureJava,
  runConsumerPerformance,
  spawnStreams,
} from './javaContenders.js';
import { idAndTs, preloadWorkload, USERS, workloadMessage } from './records.js';
import {
  settleRounds,
  type WorkloadLatency,
  type WorkloadReport,
  type WorkloadRound,
  type WorkloadRow,
} from './workloadReport.js';

export interface WorkloadOptions {
  records: number;
  /** Paced input of the latency runs, records/s. */
  rate: number;
  latencySeconds: number;
  warmupSeconds: number;
  streamsThreads: number;
  /** Commit interval of the Kafka Streams app (Tributary's and the kafkajs loop's are 1 s too). */
  commitIntervalMs: number;
  /** Contender ids to run (see contenders.ts). */
  contenders: ReadonlySet<string>;
  throughput: boolean;
  latency: boolean;
  maxInFlight: number;
  /** Throughput rounds: each contender runs once per round, in turn; the tables show the median round. */
  rounds: number;
}

export interface WorkloadContext {
  kafka: Kafka;
  admin: Admin;
  brokers: string[];
  brokerPid?: number;
  topic(name: string, partitions?: number, config?: Record<string, string>): Promise<string>;
  group(name: string): string;
  /** Runs a Node contender in throughput mode in its own process (waits for a quiet machine when asked). */
  runNode(script: string, args: VariantArgs, nodeOptions?: readonly string[]): Promise<VariantResult>;
  /** Starts a Node contender in serve mode. */
  serveNode(script: string, args: VariantArgs, nodeOptions?: readonly string[]): VariantProcess;
  /** Waits for a quiet machine when --wait-quiet is on. */
  beforeMeasure(): Promise<void>;
  /** What to kill on Ctrl-C. */
  track(kill: (() => void) | undefined): void;
  log(line: string): void;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function runWorkload(ctx: WorkloadContext, o: WorkloadOptions): Promise<WorkloadReport> {
  const chosen = CONTENDERS.filter((c) => o.contenders.has(c.id));
  const report: WorkloadReport = {
    records: o.records,
    streamsThreads: o.streamsThreads,
    commitIntervalMs: o.commitIntervalMs,
    maxInFlight: o.maxInFlight,
    rows: chosen.map((c) => ({
      id: c.id,
      label: c.id === 'streams' ? `(c) Kafka Streams, ${o.streamsThreads} threads` : c.label,
    })),
  };
  const row = (c: Contender): WorkloadRow => {
    const r = report.rows.find((x) => x.id === c.id);
    if (!r) throw new Error(`no row for ${c.id}`);
    return r;
  };

  let classpath: string | undefined;
  if (chosen.some((c) => c.kind === 'streams')) {
    try {
      classpath = buildStreamsApp(ctx.log);
    } catch (error) {
      ctx.log(message(error));
      row(chosen.find((c) => c.kind === 'streams') as Contender).error =
        `build failed: ${message(error).split('\n')[0]}`;
    }
  }

  const nodeArgs = (input: string, output: string, dlq: string, groupId: string): VariantArgs => ({
    logFile: join(repoRoot, '.tributary', 'bench-logs', `${groupId}.log`),
    mode: 'throughput',
    brokers: ctx.brokers,
    input,
    output,
    dlq,
    groupId,
    records: o.records,
    countTopics: [output, dlq],
    maxInFlight: o.maxInFlight,
    ordering: 'partition',
    workMs: 0,
    ...(ctx.brokerPid === undefined ? {} : { brokerPid: ctx.brokerPid }),
  });

  if (o.throughput) {
    const input = await ctx.topic('wl-in');
    ctx.log(`workload: preloading ${fmt(o.records)} records (~170 B JSON, 1% invalid) into ${input} …`);
    report.preloadSeconds = await preloadWorkload(ctx.kafka, input, o.records);
    ctx.log(`workload: preloaded in ${report.preloadSeconds.toFixed(1)} s`);
    // Warm-up, not reported: the broker serves the topic once before anyone is measured, so the first contender does
    // not pay for the broker's first reads of it (a cold fetch path) while the later ones do not.
    await runConsumerPerformance(ctx.brokers, input, o.records, ctx.group('wl-warmup'), () => {}).then(
      (warmup) =>
        ctx.log(`workload: broker warmed up (the input read once at ${fmt(warmup.fetchRecordsPerSecond)} records/s)`),
      (error: unknown) =>
        ctx.log(`workload: no warm-up read (${error instanceof Error ? error.message : String(error)})`),
    );
    for (let round = 1; round <= o.rounds; round++) {
      // one run of each contender per round, in turn, so a machine that slows down for a while slows them alike
      const suffix = o.rounds > 1 ? `-r${round}` : '';
      const of = o.rounds > 1 ? ` (round ${round} of ${o.rounds})` : '';
      for (const c of chosen) {
        const r = row(c);
        if (r.error) continue;
        ctx.log(`workload throughput${of}: ${r.label} …`);
        const result = await throughputRound(ctx, o, c, classpath, input, suffix, nodeArgs);
        r.rounds = [...(r.rounds ?? []), result];
        if (result.error !== undefined) ctx.log(`  failed: ${result.error}`);
        else if (result.ceiling) {
          ctx.log(
            `  ${fmt(result.ceiling.fetchRecordsPerSecond)} records/s (fetch), peak RSS ${result.ceiling.peakRssMb.toFixed(0)} MB`,
          );
        } else {
          const t = result.throughput;
          ctx.log(
            `  ${fmt(t?.recordsPerSecond ?? 0)} records/s, peak RSS ${(t?.peakRssMb ?? 0).toFixed(0)} MB, ` +
              `output ${fmt(result.outputCount ?? 0)} (expected ${fmt(validAmong(o.records))}), DLQ ${fmt(result.dlqCount ?? 0)}` +
              (t?.startSeconds === undefined ? '' : `; start-up ${t.startSeconds.toFixed(1)} s`) +
              (t?.recordsBeforeClock
                ? `, ${fmt(t.recordsBeforeClock)} records out before the clock (not counted)`
                : ''),
          );
        }
      }
    }
    for (const r of report.rows) settleRounds(r);
  }

  if (o.latency) {
    report.latencyConfig = { rate: o.rate, seconds: o.latencySeconds, warmupSeconds: o.warmupSeconds };
    for (const c of chosen) {
      const r = row(c);
      if (c.kind === 'ceiling' || (c.kind === 'streams' && !classpath)) continue;
      ctx.log(
        `workload latency: ${r.label} at ${fmt(o.rate)} records/s for ${o.warmupSeconds} + ${o.latencySeconds} s …`,
      );
      // a loaded machine sometimes fails the first requests to fresh topics: one more try on new ones
      for (let attempt = 1; attempt <= 2 && !r.latency; attempt++) {
        try {
          const input = await ctx.topic(`wl-lat-${c.id}-in-${attempt}`, undefined, LATENCY_TOPIC_CONFIG);
          const output = await ctx.topic(`wl-lat-${c.id}-out-${attempt}`, undefined, LATENCY_TOPIC_CONFIG);
          const dlq = await ctx.topic(`wl-lat-${c.id}-dlq-${attempt}`, 1);
          const groupId = ctx.group(`wl-lat-${c.id}-${attempt}`);
          await ctx.beforeMeasure();
          r.latency = await latencyOf(ctx, o, c, classpath, { input, output, dlq, groupId }, nodeArgs);
          delete r.latencyError;
          ctx.log(
            `  p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms (from the send: ${r.latency.fromSend?.p50} / ` +
              `${r.latency.fromSend?.p99} ms), peak RSS ${r.latency.peakRssMb.toFixed(0)} MB`,
          );
        } catch (error) {
          r.latencyError = message(error);
          ctx.log(`  failed (attempt ${attempt}): ${r.latencyError}`);
        } finally {
          ctx.track(undefined);
        }
      }
    }
  }
  return report;
}

/** One throughput run of one contender on the preloaded input, on its own output topics and group. */
async function throughputRound(
  ctx: WorkloadContext,
  o: WorkloadOptions,
  c: Contender,
  classpath: string | undefined,
  input: string,
  suffix: string,
  nodeArgs: (input: string, output: string, dlq: string, groupId: string) => VariantArgs,
): Promise<WorkloadRound> {
  if (ctx.brokerPid !== undefined) {
    // the same broker state for every contender: not still busy with the preload or the previous contender
    const share = await waitForQuietProcess(ctx.brokerPid, 0.1, 60_000);
    if (share !== undefined && share >= 0.1)
      ctx.log(`  broker still ${(share * 100).toFixed(0)}% busy; measuring anyway`);
  }
  try {
    if (c.kind === 'ceiling') {
      await ctx.beforeMeasure();
      return {
        ceiling: await runConsumerPerformance(ctx.brokers, input, o.records, ctx.group(`wl-ceiling${suffix}`), ctx.log),
      };
    }
    const output = await ctx.topic(`wl-${c.id}-out${suffix}`);
    const dlq = await ctx.topic(`wl-${c.id}-dlq${suffix}`, 1);
    const groupId = ctx.group(`wl-${c.id}${suffix}`);
    let throughput: VariantResult;
    if (c.kind === 'node') {
      throughput = await ctx.runNode(c.script, nodeArgs(input, output, dlq, groupId), c.nodeOptions);
    } else {
      if (!classpath) throw new Error('the Kafka Streams application was not built');
      await ctx.beforeMeasure();
      const java = spawnStreams({
        classpath,
        brokers: ctx.brokers,
        input,
        output,
        dlq,
        applicationId: groupId,
        threads: o.streamsThreads,
        commitIntervalMs: o.commitIntervalMs,
      });
      ctx.track(() => java.process.kill('SIGTERM'));
      throughput = await measureJava('streams', java, {
        admin: ctx.admin,
        groupId,
        input,
        countTopics: [output, dlq],
        records: o.records,
        ...(ctx.brokerPid === undefined ? {} : { brokerPid: ctx.brokerPid }),
      });
    }
    return {
      throughput,
      outputCount: await recordsIn(ctx.admin, output),
      dlqCount: await recordsIn(ctx.admin, dlq),
    };
  } catch (error) {
    return { error: message(error) };
  } finally {
    ctx.track(undefined);
  }
}

async function latencyOf(
  ctx: WorkloadContext,
  o: WorkloadOptions,
  c: Contender,
  classpath: string | undefined,
  t: { input: string; output: string; dlq: string; groupId: string },
  nodeArgs: (input: string, output: string, dlq: string, groupId: string) => VariantArgs,
): Promise<WorkloadLatency> {
  const drive = () =>
    measureLatency(ctx.kafka, {
      input: t.input,
      output: t.output,
      rate: o.rate,
      seconds: o.latencySeconds,
      warmupSeconds: o.warmupSeconds,
      users: USERS,
      message: workloadMessage,
      read: idAndTs,
      expected: validAmong,
    });
  if (c.kind === 'node') {
    const child = ctx.serveNode(
      c.script,
      { ...nodeArgs(t.input, t.output, t.dlq, t.groupId), mode: 'serve' },
      c.nodeOptions,
    );
    ctx.track(() => child.process.kill('SIGTERM'));
    let latency: Awaited<ReturnType<typeof drive>>;
    try {
      await child.ready();
      latency = await drive();
    } finally {
      child.stop();
    }
    const result = await child.result();
    return { ...latency, peakRssMb: result.peakRssMb };
  }
  if (c.kind !== 'streams' || !classpath) throw new Error(`${c.id} has no latency run`);
  const java: JavaProcess = spawnStreams({
    classpath,
    brokers: ctx.brokers,
    input: t.input,
    output: t.output,
    dlq: t.dlq,
    applicationId: t.groupId,
    threads: o.streamsThreads,
    commitIntervalMs: o.commitIntervalMs,
  });
  ctx.track(() => java.process.kill('SIGTERM'));
  try {
    await java.ready();
    const latency = await drive();
    const { peakMb } = java.memory.read();
    java.stop();
    await java.exited;
    return { ...latency, peakRssMb: peakMb };
  } finally {
    if (java.process.exitCode === null) java.process.kill('SIGKILL');
  }
}

export type { CeilingResult };
