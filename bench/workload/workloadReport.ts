/** The workload part's results and its markdown table (the bench's main table). */
import type { LatencyResult } from '../latency.js';
import { median } from '../median.js';
import type { VariantResult } from '../variant.js';
import { validAmong } from './definition.js';
import type { CeilingResult } from './javaContenders.js';

export interface WorkloadLatency extends LatencyResult {
  peakRssMb: number;
}

/** One throughput run of a contender: one per round. */
export interface WorkloadRound {
  throughput?: VariantResult;
  ceiling?: CeilingResult;
  outputCount?: number;
  dlqCount?: number;
  error?: string;
}

export interface WorkloadRow {
  id: string;
  label: string;
  /** Every round's throughput run, in order (--repeat N: N rounds, each contender once per round, in turn). */
  rounds?: WorkloadRound[];
  /** The median round's run (see {@link settleRounds}). */
  throughput?: VariantResult;
  /** With several rounds: the median of their 10–90 % rates. */
  steadyMedian?: number;
  ceiling?: CeilingResult;
  /** Records on the contender's output and dead-letter topics after its throughput run. */
  outputCount?: number;
  dlqCount?: number;
  latency?: WorkloadLatency;
  error?: string;
  latencyError?: string;
}

export interface WorkloadReport {
  records: number;
  preloadSeconds?: number;
  streamsThreads: number;
  commitIntervalMs: number;
  maxInFlight: number;
  latencyConfig?: { rate: number; seconds: number; warmupSeconds: number };
  rows: WorkloadRow[];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number | null | undefined, d = 1) =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d);

/** records/s of a run: the contender's own, or ConsumerPerformance's fetch rate (after its join). */
function roundRate(round: WorkloadRound): number | undefined {
  return round.throughput?.recordsPerSecond ?? round.ceiling?.fetchRecordsPerSecond;
}

/** records/s of a row: its median round's. */
export function rowRate(row: WorkloadRow): number | undefined {
  return roundRate(row);
}

/** 10–90 % records/s of a row: the median over its rounds. */
export function rowSteadyRate(row: WorkloadRow): number | undefined {
  return row.steadyMedian ?? row.throughput?.steadyRecordsPerSecond ?? undefined;
}

/**
 * Sums up a row's rounds: the round at the median records/s (the lower of the middle two for an even count) stands
 * for the row — its rate, seconds, RSS, CPU and output counts, all from one run — and `steadyMedian` is the median
 * of the rounds' 10–90 % rates. Rounds that failed are left out; if every round failed, the row carries the last
 * error.
 */
export function settleRounds(row: WorkloadRow): void {
  const rounds = row.rounds ?? [];
  const measured = rounds.filter((r) => r.error === undefined && roundRate(r) !== undefined);
  if (measured.length === 0) {
    const failed = rounds.findLast((r) => r.error !== undefined);
    if (failed?.error !== undefined) row.error = failed.error;
    return;
  }
  const sorted = [...measured].sort((a, b) => (roundRate(a) ?? 0) - (roundRate(b) ?? 0));
  const chosen = sorted[Math.floor((sorted.length - 1) / 2)] as WorkloadRound;
  if (chosen.throughput) row.throughput = chosen.throughput;
  if (chosen.ceiling) row.ceiling = chosen.ceiling;
  if (chosen.outputCount !== undefined) row.outputCount = chosen.outputCount;
  if (chosen.dlqCount !== undefined) row.dlqCount = chosen.dlqCount;
  if (measured.length > 1) {
    const steady = median(
      measured.flatMap((r) => (r.throughput?.steadyRecordsPerSecond ? [r.throughput.steadyRecordsPerSecond] : [])),
    );
    if (steady !== undefined) row.steadyMedian = steady;
  }
}

/** `value`, and with several rounds the range of `of` over them: `61,510 (58,112–63,020)`. */
function withRange(
  value: number | undefined,
  row: WorkloadRow,
  of: (round: WorkloadRound) => number | undefined,
): string {
  if (value === undefined) return '–';
  const values = (row.rounds ?? []).flatMap((r) => {
    const v = r.error === undefined ? of(r) : undefined;
    return v === undefined || v === null ? [] : [v];
  });
  if (values.length < 2) return int(value);
  return `${int(value)} (${int(Math.min(...values))}–${int(Math.max(...values))})`;
}

export function renderWorkload(w: WorkloadReport): string {
  const lines: string[] = [];
  const streams = w.rows.find((r) => r.id === 'streams');
  const streamsRate = streams ? rowRate(streams) : undefined;
  const valid = validAmong(w.records);
  const rounds = Math.max(0, ...w.rows.map((r) => r.rounds?.length ?? 0));
  lines.push(
    `**Workload**: ${int(w.records)} preloaded ~170-byte JSON records (${int(w.records - valid)} invalid), 6 partitions; ` +
      'JSON parse → zod validate → add a field → publish keyed by user, invalid ones to a DLQ; at-least-once, ' +
      `commits every ${w.commitIntervalMs / 1000} s` +
      `${w.preloadSeconds === undefined ? '' : ` (preload took ${fixed(w.preloadSeconds)} s)`}. Tributary at ` +
      `maxInFlight ${int(w.maxInFlight)}. records/s: from the contender's join (2 workers: /readyz or their first ` +
      'output) to the poll that saw all records on its output and DLQ topics, counting those not out yet at the ' +
      'join (ConsumerPerformance: its own fetch rate, after its join). ' +
      (rounds > 1
        ? `${rounds} rounds, each contender once per round, in turn: records/s is the median round's (its seconds, ` +
          "RSS, CPU and counts beside it), 10–90 % the median of the rounds' rates; the range over the rounds in " +
          'brackets. '
        : '') +
      (w.latencyConfig
        ? `Latency: input paced at ${int(w.latencyConfig.rate)} records/s for ${w.latencyConfig.seconds} s (after ` +
          `${w.latencyConfig.warmupSeconds} s of warm-up), from a record's append to the input to its append to the ` +
          "output, both the broker's time (LogAppendTime topics)."
        : ''),
    '',
    '| contender | records/s | vs Kafka Streams | 10–90 % records/s | seconds | peak RSS (MB) | CPU (s) | broker CPU (s) | other CPU (s) | output / DLQ records | p50 (ms) | p99 (ms) | peak RSS at 5 k/s (MB) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const row of w.rows) {
    if (row.error && !row.latency) {
      lines.push(`| ${row.label} | failed: ${row.error.split('\n')[0]} | | | | | | | | | | | |`);
      continue;
    }
    const t = row.throughput;
    const c = row.ceiling;
    const rate = rowRate(row);
    const vs = rate !== undefined && streamsRate ? `${(rate / streamsRate).toFixed(2)}×` : '–';
    const counts =
      row.outputCount === undefined
        ? c
          ? `${int(c.records)} consumed`
          : '–'
        : `${int(row.outputCount)} / ${int(row.dlqCount ?? 0)}${row.outputCount === valid && row.dlqCount === w.records - valid ? '' : ' ≠ expected'}`;
    const l = row.latency;
    lines.push(
      `| ${row.label} | ${withRange(rate, row, roundRate)} | ${vs} | ` +
        `${withRange(rowSteadyRate(row), row, (r) => r.throughput?.steadyRecordsPerSecond ?? undefined)} | ` +
        `${fixed(t?.seconds ?? c?.fetchSeconds)} | ` +
        `${fixed(t?.peakRssMb ?? c?.peakRssMb, 0)} | ${fixed(t?.cpuSeconds ?? c?.cpuSeconds)} | ${fixed(t?.brokerCpuSeconds)} | ` +
        `${fixed(t?.otherCpuSeconds)} | ${counts} | ${l ? l.p50 : row.latencyError ? 'failed' : '–'} | ${l ? l.p99 : '–'} | ` +
        `${fixed(l?.peakRssMb, 0)} |`,
    );
  }
  return lines.join('\n');
}
