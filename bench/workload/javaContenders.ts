/**
 * The JVM contenders, run and measured from the orchestrator: (c) the workload as a Kafka Streams application
 * (bench/streams, built here with Maven) and (d) Kafka's own ConsumerPerformance (kafka-tools, from the jars the local
 * broker runs on) as the ceiling of consuming alone. Peak RSS is the kernel's high-water mark of the JVM process
 * (VmHWM), CPU time from /proc: the same windows as the Node contenders measure on themselves.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { ensureKafkaJars } from '../../scripts/kafka/localBroker.js';
import { repoRoot } from '../child.js';
import {
  committedToEnd,
  machineBusySeconds,
  pollUntil,
  processCpuSeconds,
  processMemoryKb,
  recordsInAll,
} from '../support.js';
import { steadyRate, type VariantResult } from '../variant.js';

const javaBin = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
const streamsProject = join(repoRoot, 'bench', 'streams');
const streamsOut = join(repoRoot, '.tributary', 'bench-build', 'streams');

/** `openjdk version "17.0.15" …` → `17.0.15 (OpenJDK 64-Bit Server VM …)`, or 'not found'. */
export function javaVersion(): string {
  const probe = spawnSync(javaBin, ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return 'not found';
  const lines = probe.stderr.trim().split('\n');
  const version = /"([^"]+)"/.exec(lines[0] ?? '')?.[1] ?? lines[0] ?? '?';
  return `${version} (${(lines[2] ?? '').replace(/\s*\(build[^)]*\)/, '').trim()})`;
}

function sourcesHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(path).update(readFileSync(path));
    }
  };
  hash.update(readFileSync(join(streamsProject, 'pom.xml')));
  walk(join(streamsProject, 'src'));
  return hash.digest('hex');
}

/**
 * Builds the Kafka Streams app with Maven (online: the first build on a machine downloads Kafka Streams and Jackson
 * from Maven Central into ~/.m2) unless the sources did not change since the last build. Returns its classpath.
 */
export function buildStreamsApp(log: (line: string) => void): string {
  const stamp = join(streamsOut, '.sources-sha256');
  const hash = sourcesHash();
  const classpath = `${join(streamsOut, 'classes')}:${join(streamsOut, 'lib', '*')}`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return classpath;
  log('building the Kafka Streams contender (bench/streams) with Maven …');
  const result = spawnSync(
    'mvn',
    ['-B', '-q', 'package', '-f', join(streamsProject, 'pom.xml'), `-Dbench.out=${streamsOut}`],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  if (result.error || result.status !== 0) {
    throw new Error(
      `building bench/streams with Maven failed (${result.error?.message ?? `exit ${result.status}`}); Maven and ` +
        `Java 17 are needed for the Kafka Streams contender (or run with --contenders tributary,kafkajs):\n` +
        `${result.stdout}${result.stderr}`,
    );
  }
  writeFileSync(stamp, `${hash}\n`);
  return classpath;
}

/** Peak RSS of another process: the kernel's high-water mark (VmHWM), read every 100 ms until stopped. */
export class PidMemory {
  #peakKb = 0;
  #startKb: number | undefined;
  readonly #timer: NodeJS.Timeout;
  constructor(readonly pid: number) {
    this.#timer = setInterval(() => this.sample(), 100);
    this.#timer.unref();
  }
  sample(): void {
    const memory = processMemoryKb(this.pid);
    if (memory === undefined) return; // gone (or not Linux)
    if (memory.hwm > this.#peakKb) this.#peakKb = memory.hwm;
    this.#startKb ??= memory.rss;
  }
  /** The RSS at the first sample and the peak, MiB. */
  read(): { startMb: number; peakMb: number } {
    this.sample();
    return { startMb: (this.#startKb ?? 0) / 1024, peakMb: this.#peakKb / 1024 };
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

export interface JavaProcess {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly memory: PidMemory;
  /** Resolves when the process printed BENCH_READY. */
  ready(): Promise<void>;
  /** Closes stdin: the Streams app closes (committing) and exits. */
  stop(): void;
  /** The exit code (or signal); all stdout lines. */
  exited: Promise<{ code: number | string; stdout: string[] }>;
}

function spawnJava(label: string, args: readonly string[]): JavaProcess {
  const child = spawn(javaBin, [...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${javaBin}`);
  const memory = new PidMemory(child.pid);
  const lines: string[] = [];
  let buffered = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((done) => {
    markReady = done;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      if (line === 'BENCH_READY') markReady();
      newline = buffered.indexOf('\n');
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n'))
      if (line.trim() !== '') process.stderr.write(`[${label}] ${line}\n`);
  });
  const exited = new Promise<{ code: number | string; stdout: string[] }>((done) => {
    child.once('close', (code, signal) => {
      memory.stop();
      done({ code: code ?? signal ?? 'unknown', stdout: lines });
    });
  });
  return {
    process: child,
    pid: child.pid,
    memory,
    ready: () =>
      Promise.race([
        ready,
        exited.then(({ code }) => {
          throw new Error(`${label} exited (${code}) before it was ready`);
        }),
      ]),
    stop: () => child.stdin?.end(),
    exited,
  };
}

export interface StreamsArgs {
  classpath: string;
  brokers: readonly string[];
  input: string;
  output: string;
  dlq: string;
  applicationId: string;
  threads: number;
  commitIntervalMs: number;
}

/** Starts the Kafka Streams app (JVM defaults: no -Xmx, as a user runs it). */
export function spawnStreams(a: StreamsArgs): JavaProcess {
  return spawnJava('streams', [
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    '-Dorg.slf4j.simpleLogger.logFile=System.err',
    '-cp',
    a.classpath,
    'dev.tributary.bench.WorkloadStreams',
    a.brokers.join(','),
    a.input,
    a.output,
    a.dlq,
    a.applicationId,
    String(a.threads),
    String(a.commitIntervalMs),
  ]);
}

export interface ExternalMeasure {
  admin: Admin;
  groupId: string;
  input: string;
  countTopics: readonly string[];
  records: number;
  brokerPid?: number;
}

/**
 * Throughput of a started JVM contender, measured as variant.ts measures the Node ones: from its BENCH_READY (joined,
 * RUNNING) to the first poll that sees `records` records on the counted topics, not counting those already there;
 * then until its commits reached the end of the input; then it is stopped.
 */
export async function measureJava(name: string, java: JavaProcess, m: ExternalMeasure): Promise<VariantResult> {
  try {
    await java.ready();
    const t0 = performance.now();
    const cpu0 = processCpuSeconds(java.pid);
    const broker0 = m.brokerPid === undefined ? undefined : processCpuSeconds(m.brokerPid);
    const busy0 = machineBusySeconds();
    const before = await recordsInAll(m.admin, m.countTopics);
    const progress: { at: number; count: number }[] = [];
    const t1 = await pollUntil(
      async () => {
        const count = await recordsInAll(m.admin, m.countTopics);
        progress.push({ at: performance.now(), count });
        return count >= m.records;
      },
      30 * 60_000,
      `${m.records} records from ${name}`,
    );
    const cpu1 = processCpuSeconds(java.pid);
    const broker1 = m.brokerPid === undefined ? undefined : processCpuSeconds(m.brokerPid);
    const busy1 = machineBusySeconds();
    const tc = await pollUntil(() => committedToEnd(m.admin, m.groupId, m.input), 60_000, 'the commits').catch(
      () => undefined,
    );
    const { startMb, peakMb } = java.memory.read();
    java.stop();
    const { code } = await java.exited;
    if (code !== 0) throw new Error(`${name} exited with ${code}`);
    const seconds = (t1 - t0) / 1000;
    const cpuSeconds = cpu0 === undefined || cpu1 === undefined ? Number.NaN : cpu1 - cpu0;
    const brokerCpuSeconds = broker0 === undefined || broker1 === undefined ? null : broker1 - broker0;
    return {
      variant: name,
      mode: 'throughput',
      records: m.records,
      outputRecords: await recordsInAll(m.admin, m.countTopics),
      seconds,
      recordsPerSecond: (m.records - before) / seconds,
      recordsBeforeClock: before,
      committedSeconds: tc === undefined ? null : (tc - t0) / 1000,
      steadyRecordsPerSecond: steadyRate(progress, m.records),
      progress: progress.map((p) => [Math.round(p.at - t0) / 1000, p.count]),
      peakRssMb: peakMb,
      startRssMb: startMb,
      peakHeapUsedMb: Number.NaN,
      peakExternalMb: Number.NaN,
      cpuSeconds,
      brokerCpuSeconds,
      otherCpuSeconds:
        busy0 === undefined || busy1 === undefined || brokerCpuSeconds === null
          ? null
          : Math.max(0, busy1 - busy0 - cpuSeconds - brokerCpuSeconds),
      availableCpuSeconds: seconds * availableParallelism(),
    };
  } finally {
    if (java.process.exitCode === null) java.process.kill('SIGKILL');
  }
}

export interface CeilingResult {
  records: number;
  /** ConsumerPerformance's own figures: whole run (join included) and fetch only (after the join). */
  recordsPerSecond: number;
  fetchRecordsPerSecond: number;
  seconds: number;
  fetchSeconds: number;
  peakRssMb: number;
  cpuSeconds: number | null;
  raw: string;
}

/**
 * (d) `org.apache.kafka.tools.ConsumerPerformance --messages N` on the input topic: consuming alone, nothing
 * processed or produced, with the broker's own Java client. Runs on the broker's jars (kafka-tools 4.1.1).
 */
export async function runConsumerPerformance(
  brokers: readonly string[],
  topic: string,
  records: number,
  groupId: string,
  log: (line: string) => void,
): Promise<CeilingResult> {
  const libs = ensureKafkaJars(log);
  const java = spawnJava('ConsumerPerformance', [
    `-Dlog4j2.configurationFile=${join(repoRoot, 'scripts', 'kafka', 'tools-log4j2.properties')}`,
    '-cp',
    join(libs, '*'),
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    brokers.join(','),
    '--topic',
    topic,
    '--messages',
    String(records),
    '--group',
    groupId,
    '--timeout',
    '60000',
  ]);
  let cpu: number | undefined;
  const cpuTimer = setInterval(() => {
    cpu = processCpuSeconds(java.pid) ?? cpu;
  }, 100);
  java.stop();
  const { code, stdout } = await java.exited;
  clearInterval(cpuTimer);
  const { peakMb } = java.memory.read();
  if (code !== 0) throw new Error(`ConsumerPerformance exited with ${code}:\n${stdout.join('\n')}`);
  const headerAt = stdout.findIndex((l) => l.includes('nMsg.sec'));
  const header = (stdout[headerAt] ?? '').split(',').map((h) => h.trim());
  const values = (stdout[headerAt + 1] ?? '').split(',').map((v) => v.trim());
  const field = (name: string) => Number(values[header.indexOf(name)]);
  const consumed = field('data.consumed.in.nMsg');
  if (!Number.isFinite(consumed)) throw new Error(`ConsumerPerformance printed no result:\n${stdout.join('\n')}`);
  return {
    records: consumed,
    recordsPerSecond: field('nMsg.sec'),
    fetchRecordsPerSecond: field('fetch.nMsg.sec'),
    seconds: consumed / field('nMsg.sec'),
    fetchSeconds: field('fetch.time.ms') / 1000,
    peakRssMb: peakMb,
    cpuSeconds: cpu ?? null,
    raw: `${stdout[headerAt]}\n${stdout[headerAt + 1]}`,
  };
}
