/**
 * Contender (a'''): the workload run by the command line as the image runs it (`node …/src/cli/main.js run <module>`,
 * from the bench's compiled copy) with TRIBUTARY_WORKERS workers: engine processes in one consumer group behind one
 * /readyz. Its start resolves when /readyz answers 200 (every worker joined the group: the moment the in-process
 * contenders' start resolves) or when the first record reached the output, whichever is first: a worker whose join
 * completed first consumes before the other reports ready, and that work is measured too. The few records out by
 * then are left out of the rate (variant.ts); the time from spawn is reported as its start-up. CPU is the
 * primary's and the workers' together over the measured window, peak RSS the largest of them (the target is per
 * worker).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../scripts/freePort.js';
import { benchKafka, childPids, pollUntil, recordsInAll } from '../support.js';
import { runVariant } from '../variant.js';

const here = dirname(fileURLToPath(import.meta.url));
// compiled layout: .tributary/bench-build/bench/workload/ → .tributary/bench-build/src/cli/main.js
const cliMain = join(here, '..', '..', 'src', 'cli', 'main.js');
const pipelineModule = join(here, 'workloadPipeline.js');
const workers = process.env.BENCH_TRIBUTARY_WORKERS ?? '2';

runVariant(`tributaryWorkers${workers}`, async (args) => {
  const port = await freePort();
  const logFile = args.logFile ?? join(here, 'tributaryWorkers.log');
  mkdirSync(dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'a');
  // this process's Node options (the contender's: the image's) go to the CLI, and from it to the workers
  const cli = spawn(process.execPath, [...process.execArgv, cliMain, 'run', pipelineModule], {
    env: {
      ...process.env,
      KAFKA_BROKERS: args.brokers.join(','),
      TRIBUTARY_WORKERS: workers,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
      BENCH_INPUT: args.input,
      BENCH_OUTPUT: args.output,
      BENCH_DLQ: args.dlq,
      BENCH_GROUP: args.groupId,
      BENCH_MAX_IN_FLIGHT: String(args.maxInFlight),
      BENCH_ORDERING: args.ordering,
    },
    stdio: ['ignore', log, log],
  });
  let gone = false;
  const exited = new Promise<number | null>((done) =>
    cli.once('exit', (code) => {
      gone = true;
      done(code);
    }),
  );
  const admin = benchKafka(args.brokers, `bench-workers-start-${args.groupId}`).admin();
  await admin.connect();
  try {
    await pollUntil(
      async () => {
        if (gone) throw new Error(`tributary run exited before it was ready (its log: ${logFile})`);
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        return ready || (await recordsInAll(admin, args.countTopics ?? [args.output])) > 0;
      },
      120_000,
      `/readyz 200 from tributary run with ${workers} workers, or its first output`,
    );
  } finally {
    await admin.disconnect();
  }
  const pid = cli.pid as number;
  return {
    processes: () => [pid, ...childPids(pid)],
    async stop() {
      cli.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`tributary run exited with ${code} after SIGTERM (its log: ${logFile})`);
    },
  };
});
