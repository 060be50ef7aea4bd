/**
 * `tributary run` throughput with 1 vs N engine workers (TRIBUTARY_WORKERS): preloads records into one topic, then
 * for each worker count runs the CLI (from source, through tsx) on the parse + validate + publish fixture pipeline
 * with a fresh consumer group, and times the records processed between /readyz 200 (every worker in the group) and
 * the summed `tributary_records_processed_total` reaching the total. Start-up and the first rebalances are left out.
 *
 *   KAFKA_BROKERS=127.0.0.1:39792 npx tsx bench/workers.ts --records 200000 --workers 1,2 --repeat 2
 *
 * A benchmark, not a test: it prints numbers (and the machine's load, from os.loadavg()).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchKafka, createTopics, machineBusySeconds, preload, processCpuSeconds, runId, sleep } from './support.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    workers: { type: 'string', default: '1,2' },
    partitions: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '1' },
  },
});
const records = Number(values.records);
const workerCounts = values.workers.split(',').map(Number);
const partitions = Number(values.partitions);
const repeat = Number(values.repeat);
const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) throw new Error('set KAFKA_BROKERS');

const root = join(import.meta.dirname, '..');
const fixture = join('test', 'fixtures', 'pipelines', 'validated');

function processedTotal(text: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('tributary_records_processed_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The process and its children (the workers), from /proc. */
function tree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    // not Linux, or gone
  }
  return [pid, ...children.flatMap(tree)];
}

function treeCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0);
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

async function runOnce(workers: number, topics: { input: string; output: string; dlq: string }, port: number) {
  const group = `bench-workers-${runId()}`;
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'run', fixture], {
    cwd: root,
    env: {
      ...process.env,
      KAFKA_BROKERS: brokers.join(','),
      HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
      TRIBUTARY_WORKERS: String(workers),
      VALIDATED_IN: topics.input,
      VALIDATED_OUT: topics.output,
      VALIDATED_DLQ: topics.dlq,
      VALIDATED_GROUP: group,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | string>((done) =>
    child.once('exit', (code, signal) => done(code ?? signal ?? '?')),
  );
  const base = `http://127.0.0.1:${port}`;
  const spawned = performance.now();
  try {
    while ((await fetch(`${base}/readyz`).catch(() => undefined))?.status !== 200) {
      if (child.exitCode !== null) throw new Error(`tributary exited with ${child.exitCode}`);
      await sleep(100);
    }
    const ready = performance.now();
    const pids = tree(child.pid ?? 0);
    const cpuAtReady = treeCpuSeconds(pids);
    const busyAtReady = machineBusySeconds() ?? 0;
    const atReady = processedTotal(await (await fetch(`${base}/metrics`)).text());
    let done = atReady;
    while (done < records) {
      await sleep(250);
      done = processedTotal(await (await fetch(`${base}/metrics`)).text());
    }
    const finished = performance.now();
    const seconds = (finished - ready) / 1000;
    const cores = availableParallelism();
    return {
      tributaryCores: (treeCpuSeconds(pids) - cpuAtReady) / seconds,
      machineBusy: ((machineBusySeconds() ?? 0) - busyAtReady) / (seconds * cores),
      workers,
      startSeconds: (ready - spawned) / 1000,
      measured: records - atReady,
      seconds,
      perSecond: (records - atReady) / seconds,
    };
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) console.error(`tributary (${workers} workers) exited with ${code}`);
  }
}

async function main(): Promise<void> {
  const kafka = benchKafka(brokers, 'bench-workers');
  const admin = kafka.admin();
  await admin.connect();
  const id = runId();
  const topics = { input: `bench-workers-in-${id}`, output: `bench-workers-out-${id}`, dlq: `bench-workers-dlq-${id}` };
  await createTopics(admin, [
    { topic: topics.input, partitions },
    { topic: topics.output, partitions },
    { topic: topics.dlq, partitions: 1 },
  ]);
  console.log(`cores ${availableParallelism()}; load before preload: ${load()}`);
  const preloadSeconds = await preload(kafka, topics.input, records, { users: 1000 });
  console.log(`preloaded ${records} records into ${partitions} partitions in ${preloadSeconds.toFixed(1)} s`);
  const results = [];
  try {
    for (let round = 0; round < repeat; round++) {
      for (const workers of workerCounts) {
        const loadBefore = load();
        const result = await runOnce(workers, topics, 39_800 + workers);
        results.push(result);
        console.log(
          `workers ${workers}: ${result.measured} records in ${result.seconds.toFixed(2)} s = ` +
            `${Math.round(result.perSecond)} records/s; tributary used ${result.tributaryCores.toFixed(2)} cores, ` +
            `the machine was ${Math.round(result.machineBusy * 100)} % busy (ready after ${result.startSeconds.toFixed(1)} s; ` +
            `load before ${loadBefore})`,
        );
      }
    }
  } finally {
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
    await admin.disconnect();
  }
  for (const workers of workerCounts) {
    const rates = results
      .filter((r) => r.workers === workers)
      .map((r) => r.perSecond)
      .sort((a, b) => a - b);
    console.log(`workers ${workers}: median ${Math.round(rates[Math.floor(rates.length / 2)] ?? 0)} records/s`);
  }
  console.log(`load after: ${load()}`);
}

await main();
