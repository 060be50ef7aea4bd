/**
 * A broker of a test's own, to kill with SIGKILL and start again on the same data: the shared test broker is never
 * touched. The first start is `startLocalBroker` (format a fresh state dir under .tributary/); a restart runs the
 * same java command on the same server.properties without formatting, because `startLocalBroker` wipes the state
 * dir of a broker that is not running (it would lose every topic and committed offset). It is stopped and its
 * state dir removed when the test finishes (a failed test keeps broker.log).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { onTestFinished } from 'vitest';
import {
  describeCluster,
  kafkaLibsDir,
  LocalBrokerError,
  type LocalBrokerOptions,
  projectRoot,
  startLocalBroker,
  stopLocalBroker,
} from '../../scripts/kafka/localBroker.js';

const HEAP_MB = 384;
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export interface KillableBroker {
  readonly bootstrap: string;
  readonly logFile: string;
  /** A kafkajs client for this broker (admin, producer, reader). */
  kafka(clientId: string): Kafka;
  /** SIGKILL, then waits until the process is gone. */
  kill(): Promise<void>;
  /** Starts the killed broker again on the same data; resolves once it answers metadata and group requests. */
  restart(timeoutMs?: number): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** A client port and the controller port after it, both free, in 40000–48999. */
async function freePortPair(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 40_000 + 2 * Math.floor(Math.random() * 4500);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error('no free port pair in 40000–48999');
}

/** Gone means no process, or a zombie nobody reaped yet (it serves nothing). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

/** Metadata answers and the group coordinator serves (it reloads __consumer_offsets after a restart). */
async function answers(bootstrap: string): Promise<boolean> {
  if ((await describeCluster(bootstrap)) === undefined) return false;
  const admin = new Kafka({
    clientId: 'fault-broker-probe',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    // with no retries at all, describeGroups fails with "No brokers in the broker pool" even once the broker is up
    retry: { retries: 3, initialRetryTime: 200 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeGroups(['fault-broker-probe']);
    return true;
  } catch {
    return false; // coordinator still loading
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * 4xxxx ports lie in Linux's ephemeral range (32768–60999): while the broker starts, a client's outgoing connection
 * can take its port. Such a start is retried (on new ports for the first start, on the same ones for a restart).
 */
const ATTEMPTS = 3;
const portTaken = (text: string) => text.includes('Address already in use');

async function startFresh(name: string): Promise<{ options: LocalBrokerOptions; stateDir: string; pid: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePortPair();
    const stateDir = join(projectRoot, '.tributary', `${name}-${port}`);
    const options: LocalBrokerOptions = { port, controllerPort: port + 1, stateDir, heapMb: HEAP_MB };
    onTestFinished(async ({ task }) => {
      await stopLocalBroker(options, 10_000).catch(() => {});
      // a failed test keeps the broker's log (the data goes either way)
      if (task.result?.state === 'fail') rmSync(join(stateDir, 'data'), { recursive: true, force: true });
      else rmSync(stateDir, { recursive: true, force: true });
    });
    try {
      const broker = await startLocalBroker(options);
      return { options, stateDir, pid: broker.pid };
    } catch (error) {
      if (attempt >= ATTEMPTS || !(error instanceof LocalBrokerError) || !portTaken(error.message)) throw error;
    }
  }
}

export async function startKillableBroker(name: string): Promise<KillableBroker> {
  const { options, stateDir, pid: firstPid } = await startFresh(name);
  const bootstrap = `127.0.0.1:${options.port}`;
  const logFile = join(stateDir, 'broker.log');
  let pid = firstPid;

  /** The command startLocalBroker runs, on the server.properties it wrote (no formatting). */
  const spawnBroker = (): ChildProcess => {
    const log = openSync(logFile, 'a');
    try {
      return spawn(
        process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java',
        [
          `-Xms${HEAP_MB}m`,
          `-Xmx${HEAP_MB}m`,
          '-XX:+UseG1GC',
          '-Djava.awt.headless=true',
          `-Dlog4j2.configurationFile=${join(projectRoot, 'scripts', 'kafka', 'log4j2.properties')}`,
          `-Dkafka.logs.dir=${stateDir}`,
          '-cp',
          join(kafkaLibsDir(), '*'),
          'kafka.Kafka',
          join(stateDir, 'server.properties'),
        ],
        { detached: true, stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
  };

  return {
    bootstrap,
    logFile,
    kafka: (clientId) => new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.NOTHING }),
    async kill() {
      process.kill(pid, 'SIGKILL');
      while (!gone(pid)) await sleep(20);
    },
    async restart(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        const logStart = statSync(logFile).size;
        const child = spawnBroker();
        if (child.pid === undefined) throw new Error('could not spawn java for the broker restart');
        let exited = false;
        child.once('exit', () => {
          exited = true;
        });
        child.unref();
        pid = child.pid;
        // stopLocalBroker finds the broker by this pid file
        writeFileSync(join(stateDir, 'broker.pid'), `${pid}\n`);
        while (!exited && Date.now() < deadline) {
          if (await answers(bootstrap)) return;
          await sleep(200);
        }
        if (!exited) break;
        const output = readFileSync(logFile, 'utf8').slice(logStart);
        if (!portTaken(output)) throw new Error(`the restarted broker exited (log: ${logFile})`);
        await sleep(1000); // the connection holding the port is short-lived
      }
      throw new Error(`the restarted broker did not answer within ${timeoutMs} ms (log: ${logFile})`);
    },
  };
}
