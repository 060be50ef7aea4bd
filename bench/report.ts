/** Turns measured results into the markdown tables printed at the end and written into bench/README.md. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import type { LatencyResult } from './latency.js';
import { median } from './median.js';
import type { VariantResult } from './variant.js';
import {
  renderWorkload,
  rowRate,
  rowSteadyRate,
  type WorkloadReport,
  type WorkloadRow,
} from './workload/workloadReport.js';

export interface Machine {
  cpus: number;
  memoryGb: number;
  cpuModel: string;
  node: string;
  kafka: string;
  date: string;
  loadAtStart: string;
  /** The engine measured: git commit, and whether src/ or operators/ had uncommitted changes. */
  engine: string;
  /** `java -version` (the Kafka Streams and ConsumerPerformance contenders). */
  java?: string;
}

function engineRevision(): string {
  const git = (args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const commit = git(['rev-parse', '--short', 'HEAD']).trim();
    const dirty = git(['status', '--porcelain', '--', 'src', 'operators']).trim() !== '';
    return `${commit}${dirty ? ' + uncommitted changes in src/ or operators/' : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

export function machine(kafkaVersion: string): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  return {
    cpus: availableParallelism(),
    memoryGb: totalmem() / 2 ** 30,
    cpuModel,
    node: process.version,
    kafka: kafkaVersion,
    date: new Date().toISOString(),
    engine: engineRevision(),
    loadAtStart: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

export interface ThroughputRow {
  label: string;
  maxInFlight?: number;
  result: VariantResult;
}

export interface LatencyRow {
  label: string;
  latency: LatencyResult;
  result: VariantResult;
}

export interface OrderingRow {
  ordering: 'key' | 'partition';
  workMs: number;
  keys: number;
  result: VariantResult;
}

export interface Report {
  runId: string;
  command: string;
  machine: Machine;
  broker: { bootstrap: string; clusterId: string; started: boolean };
  preload?: { records: number; seconds: number };
  throughput: ThroughputRow[];
  /** The maxInFlight the Tributary rows of (c) and (d) use, and the row compared against raw. */
  chosenMaxInFlight: number;
  latency: LatencyRow[];
  latencyConfig?: { rate: number; seconds: number; warmupSeconds: number };
  ordering: OrderingRow[];
  /** The main table: the workload on every contender. */
  workload?: WorkloadReport;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number | null | undefined, d = 1) => (n === null || n === undefined ? '–' : n.toFixed(d));

/**
 * Seconds between polls in which the output topic did not grow although records were missing, counted from the
 * first record out: fetch stalls, not start-up.
 */
export function stalledSeconds(result: VariantResult): number | null {
  const progress = result.progress;
  if (!progress || progress.length < 2) return null;
  let stalled = 0;
  for (let i = 1; i < progress.length; i++) {
    const [t0, c0] = progress[i - 1] ?? [0, 0];
    const [t1, c1] = progress[i] ?? [0, 0];
    if (c0 > 0 && c1 === c0 && c1 < result.records) stalled += t1 - t0;
  }
  return stalled;
}

/** Median records/s (whole run, or 10–90 %) of the raw loop and of Tributary at the chosen maxInFlight. */
export function throughputMedians(report: Report, steady = false): { raw?: number; tributary?: number } {
  const rate = (r: VariantResult) => (steady ? (r.steadyRecordsPerSecond ?? Number.NaN) : r.recordsPerSecond);
  const raw = median(report.throughput.filter((r) => r.result.variant === 'rawLoop').map((r) => rate(r.result)));
  const tributary = median(
    report.throughput
      .filter((r) => r.result.variant === 'tributary' && r.maxInFlight === report.chosenMaxInFlight)
      .map((r) => rate(r.result)),
  );
  const ok = (n: number | undefined): n is number => n !== undefined && Number.isFinite(n);
  return { ...(ok(raw) ? { raw } : {}), ...(ok(tributary) ? { tributary } : {}) };
}

export function ratios(report: Report): { throughput?: number; ordering?: number } {
  const { raw, tributary } = throughputMedians(report);
  const key = report.ordering.find((r) => r.ordering === 'key');
  const partition = report.ordering.find((r) => r.ordering === 'partition');
  const out: { throughput?: number; ordering?: number } = {};
  if (raw !== undefined && tributary !== undefined) out.throughput = tributary / raw;
  if (key && partition) out.ordering = key.result.recordsPerSecond / partition.result.recordsPerSecond;
  return out;
}

export function renderResults(report: Report): string {
  const m = report.machine;
  const { throughput: ratio, ordering: orderingRatio } = ratios(report);
  const lines: string[] = [];
  lines.push(`Command: \`${report.command}\``, '');
  lines.push(
    `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb.toFixed(1)} GiB RAM, Node ${m.node}, ` +
      `${m.java ? `Java ${m.java}, ` : ''}Kafka ${m.kafka} (${report.broker.started ? 'local single-node KRaft broker started by the bench' : 'KAFKA_BROKERS'}, ` +
      `cluster id \`${report.broker.clusterId}\`), ${m.date}, load average at start ${m.loadAtStart}. ` +
      'Broker, variant and bench process share the same CPUs.',
    '',
    `Engine measured: \`${m.engine}\`.`,
    '',
  );
  if (report.workload) lines.push(renderWorkload(report.workload), '');
  if (report.throughput.length > 0 || report.latency.length > 0 || report.ordering.length > 0) {
    lines.push('### Secondary: passthrough (no processing), its latency, ordering', '');
  }

  if (report.throughput.length > 0) {
    const { raw: rawMedian } = throughputMedians(report);
    lines.push(
      `**Throughput** (a, b): passthrough of ${int(report.preload?.records ?? 0)} preloaded ~200-byte records, ` +
        `6 partitions → 6 partitions${report.preload ? ` (preload took ${fixed(report.preload.seconds)} s)` : ''}.`,
      '',
      '| variant | records | seconds | records/s | vs raw | 10–90 % records/s | stalled (s) | peak RSS (MB) | RSS at start (MB) | peak heap used (MB) | variant CPU (s) | broker CPU (s) | other processes CPU (s) | all committed after (s) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const row of report.throughput) {
      const r = row.result;
      const vs = rawMedian ? `${(r.recordsPerSecond / rawMedian).toFixed(2)}×` : '–';
      lines.push(
        `| ${row.label} | ${int(r.outputRecords)} | ${fixed(r.seconds)} | ${int(r.recordsPerSecond)} | ${vs} | ` +
          `${r.steadyRecordsPerSecond === null ? '–' : int(r.steadyRecordsPerSecond)} | ${fixed(stalledSeconds(r))} | ` +
          `${fixed(r.peakRssMb, 0)} | ${fixed(r.startRssMb, 0)} | ${fixed(r.peakHeapUsedMb, 0)} | ${fixed(r.cpuSeconds)} | ${fixed(r.brokerCpuSeconds)} | ${fixed(r.otherCpuSeconds)} | ${fixed(r.committedSeconds)} |`,
      );
    }
    lines.push('');
  }

  if (report.latency.length > 0 && report.latencyConfig) {
    const c = report.latencyConfig;
    lines.push(
      `**Latency** (c): ${int(c.rate)} records/s for ${c.seconds} s (after ${c.warmupSeconds} s of warm-up, not counted), ` +
        "append to the input → append to the output, both the broker's time (LogAppendTime topics).",
      '',
      '| variant | records measured | achieved rate (rec/s) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | peak RSS (MB) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const row of report.latency) {
      const l = row.latency;
      lines.push(
        `| ${row.label} | ${int(l.measured)} | ${int(l.achievedRate)} | ${l.p50} | ${l.p90} | ${l.p99} | ${l.max} | ` +
          `${fixed(row.result.peakRssMb, 0)} |`,
      );
    }
    lines.push('');
  }

  if (report.ordering.length > 0) {
    const first = report.ordering[0];
    lines.push(
      `**Ordering** (d): Tributary, maxInFlight ${report.chosenMaxInFlight}, ${int(first?.result.records ?? 0)} records, ` +
        `6 partitions, ${int(first?.keys ?? 0)} distinct keys, ${first?.workMs ?? 0} ms of async work per record ` +
        '(`mergeMapByLane(el => timer(5).pipe(map(() => el)), laneOfElement)`) before publish.',
      '',
      '| ordering | records | seconds | records/s | 10–90 % records/s | stalled (s) | peak RSS (MB) |',
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const row of report.ordering) {
      const r = row.result;
      lines.push(
        `| \`${row.ordering}\` | ${int(r.outputRecords)} | ${fixed(r.seconds, 2)} | ${int(r.recordsPerSecond)} | ` +
          `${r.steadyRecordsPerSecond === null ? '–' : int(r.steadyRecordsPerSecond)} | ${fixed(stalledSeconds(r))} | ` +
          `${fixed(r.peakRssMb, 0)} |`,
      );
    }
    lines.push('');
  }

  const summaryAt = lines.length;
  lines.push('### Summary', '', '| measure | value | target |', '|---|---:|---|');
  const rate = (id: string) => {
    const row = report.workload?.rows.find((r) => r.id === id);
    return row ? rowRate(row) : undefined;
  };
  const workloadTrib = rate('tributary');
  // the issue's targets: ≥ 1.0× Kafka Streams, ≥ 0.9× the hand loop on the same client (@platformatic/kafka)
  const targets: Record<string, { at: number; text: string }> = {
    streams: { at: 1.0, text: '≥ 1.0' },
    platformatic: { at: 0.9, text: '≥ 0.9 (same client)' },
  };
  for (const [id, name] of [
    ['streams', 'Kafka Streams'],
    ['platformatic', 'the @platformatic/kafka hand loop'],
    ['kafkajs', 'the kafkajs hand loop'],
    ['ceiling', 'ConsumerPerformance (consume only)'],
  ] as const) {
    const other = rate(id);
    if (workloadTrib !== undefined && other !== undefined) {
      const value = workloadTrib / other;
      const target = targets[id];
      lines.push(
        `| workload: Tributary / ${name} (${int(workloadTrib)} / ${int(other)} records/s) | ${value.toFixed(2)} | ` +
          `${target ? `${target.text}: ${value >= target.at ? 'met' : 'NOT met'}` : '–'} |`,
      );
    }
  }
  // 2 workers against Kafka Streams' 2 threads: overall (clock from /readyz, as Streams' from RUNNING) and in steady state
  const steadyOf = (id: string) => {
    const row = report.workload?.rows.find((r) => r.id === id);
    return row ? rowSteadyRate(row) : undefined;
  };
  const workers = rate('tributary-workers');
  const streamsRate = rate('streams');
  if (workers !== undefined && streamsRate !== undefined) {
    lines.push(
      `| workload: Tributary with 2 workers / Kafka Streams (${int(workers)} / ${int(streamsRate)} records/s, ` +
        `clock from /readyz) | ${(workers / streamsRate).toFixed(2)} | ≥ 1.0: ${workers >= streamsRate ? 'met' : 'NOT met'} |`,
    );
    const steadyWorkers = steadyOf('tributary-workers');
    const steadyStreams = steadyOf('streams');
    if (steadyWorkers && steadyStreams) {
      lines.push(
        `| same, steady state only (10–90 % of the records: ${int(steadyWorkers)} / ${int(steadyStreams)}) | ` +
          `${(steadyWorkers / steadyStreams).toFixed(2)} | – |`,
      );
    }
  }
  const tributaryRow = report.workload?.rows.find((r) => r.id === 'tributary');
  // the highest peak RSS of a row's throughput rounds (0: none measured)
  const roundsRss = (row: WorkloadRow | undefined) =>
    Math.max(0, ...(row?.rounds ?? []).map((round) => round.throughput?.peakRssMb ?? 0));
  const workloadRss = Math.max(
    tributaryRow?.throughput?.peakRssMb ?? 0,
    tributaryRow?.latency?.peakRssMb ?? 0,
    roundsRss(tributaryRow),
  );
  if (workloadRss > 0) {
    lines.push(
      `| workload: Tributary (a) peak RSS, any round and the latency run (MB) | ${workloadRss.toFixed(0)} | ` +
        `≤ 250: ${workloadRss <= 250 ? 'met' : 'NOT met'} |`,
    );
  }
  // the memory target is per worker: the largest process of any round of (a''')
  const workersRss = roundsRss(report.workload?.rows.find((r) => r.id === 'tributary-workers'));
  if (workersRss > 0) {
    lines.push(
      `| workload: Tributary with 2 workers (a'''), peak RSS of a worker, any round (MB) | ${workersRss.toFixed(0)} | ` +
        `≤ 250: ${workersRss <= 250 ? 'met' : 'NOT met'} |`,
    );
  }
  const workloadLatency = tributaryRow?.latency;
  if (workloadLatency) {
    lines.push(
      `| workload: Tributary (a) p50 / p99 at ${int(report.workload?.latencyConfig?.rate ?? 0)} records/s (ms) | ` +
        `${workloadLatency.p50} / ${workloadLatency.p99} | p99 ≤ 50: ${workloadLatency.p99 <= 50 ? 'met' : 'NOT met'} |`,
    );
  }
  if (ratio !== undefined) {
    const { raw, tributary } = throughputMedians(report);
    const runs = report.throughput.filter((r) => r.result.variant === 'rawLoop').length;
    lines.push(
      `| throughput Tributary / raw loop (b/a), maxInFlight ${report.chosenMaxInFlight}${runs > 1 ? `, medians of ${runs} runs` : ''} ` +
        `(${int(tributary ?? 0)} / ${int(raw ?? 0)} records/s) | ${ratio.toFixed(2)} | ≥ 0.9: ${ratio >= 0.9 ? 'met' : 'NOT met'} |`,
    );
  }
  const steady = throughputMedians(report, true);
  if (steady.raw !== undefined && steady.tributary !== undefined) {
    lines.push(
      `| steady state only (10–90 % of the records): Tributary / raw loop (${int(steady.tributary)} / ${int(steady.raw)} records/s) | ` +
        `${(steady.tributary / steady.raw).toFixed(2)} | – |`,
    );
  }
  const tribRss = Math.max(
    0,
    ...report.throughput
      .filter((r) => r.result.variant === 'tributary' && r.maxInFlight === report.chosenMaxInFlight)
      .map((r) => r.result.peakRssMb),
    ...report.latency.filter((r) => r.result.variant === 'tributary').map((r) => r.result.peakRssMb),
    ...report.ordering.map((r) => r.result.peakRssMb),
  );
  if (tribRss > 0) {
    lines.push(
      `| Tributary peak RSS at maxInFlight ${report.chosenMaxInFlight}, highest of (b), (c), (d) (MB) | ${tribRss.toFixed(0)} | ` +
        `< 250: ${tribRss < 250 ? 'met' : 'NOT met'} |`,
    );
  }
  const lat = report.latency.find((r) => r.result.variant === 'tributary');
  const rawLat = report.latency.find((r) => r.result.variant === 'rawLoop');
  if (lat) lines.push(`| Tributary p50 / p99 latency (ms) | ${lat.latency.p50} / ${lat.latency.p99} | – |`);
  if (rawLat) lines.push(`| raw loop p50 / p99 latency (ms) | ${rawLat.latency.p50} / ${rawLat.latency.p99} | – |`);
  if (orderingRatio !== undefined) {
    lines.push(`| \`key\` / \`partition\` ordering throughput with 5 ms work | ${orderingRatio.toFixed(1)}× | – |`);
    const key = report.ordering.find((r) => r.ordering === 'key')?.result.steadyRecordsPerSecond;
    const partition = report.ordering.find((r) => r.ordering === 'partition')?.result.steadyRecordsPerSecond;
    if (key && partition) {
      lines.push(`| same, steady state only (10–90 % of the records) | ${(key / partition).toFixed(1)}× | – |`);
    }
  }
  if (lines.length === summaryAt + 4) lines.splice(summaryAt); // no summary rows: no summary table
  return lines.join('\n');
}

const START = '<!-- bench-results:start -->';
const END = '<!-- bench-results:end -->';

/** Replaces the results section of bench/README.md (between the markers), or appends one. */
export function writeReadme(path: string, results: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    text = '# Tributary benchmark\n\nRun it with `npm run bench` (or `npm run bench -- --quick`).\n';
  }
  const section = `${START}\n${results}\n${END}`;
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  text =
    from >= 0 && to > from
      ? `${text.slice(0, from)}${section}${text.slice(to + END.length)}`
      : `${text.trimEnd()}\n\n## Results\n\n${section}\n`;
  writeFileSync(path, text);
}
