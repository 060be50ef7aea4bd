/**
 * The primary side of TRIBUTARY_WORKERS > 1: forks the engine workers (workerMain), relays their log lines, combines
 * their readiness and metrics for the one HTTP endpoint, restarts a worker that dies, and stops them all gracefully.
 *
 * Why child processes and not worker threads: a worker is exactly what one container is today (one Node process, one
 * Kafka client, one member of each group), so a crash, an out-of-memory kill or a stuck event loop takes down one
 * group member and Kafka moves its partitions, as it does for a container; each has its own heap limit and garbage
 * collector; and pipeline modules (user code, loaded through tsx or Node's type stripping) load in each the way they
 * load in `tributary run`, inheriting the primary's `execArgv`. The cost is memory (a Node process each) and IPC for
 * metrics, which is paid per scrape, not per record. node:cluster is not used: it exists to share a listening socket,
 * and workers listen on nothing.
 *
 * Start: every worker must start once; if one cannot (bad pipeline, Kafka unreachable) start() rejects with its exit
 * code and message and the caller stops the others, as `tributary run` fails with one worker. After that a worker
 * that exits is restarted with backoff (1 s doubling to 30 s; back to 1 s after it ran for a minute), logged at error.
 * Stop: each worker is told to stop (drain, commit, leave the groups) and exits 0; the primary waits for all. If the
 * primary process exits any other way (a second signal), the workers are killed with it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { createWorkerMetrics, retainedTotals, type WorkerMetricsSnapshot } from '../../../metrics/workerMetrics.js';
import { backoffDelay } from '../../backoff.js';
import type { Readiness } from '../../http/server.js';
import { type FromWorker, isFromWorker, type ToWorker } from './protocol.js';

export interface SupervisorOptions {
  readonly workers: number;
  /** Pipeline files or folders, as given to `tributary run`. */
  readonly paths: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The primary's logger (lines about a worker carry `worker`). */
  readonly logger: Logger;
  /** Where a worker's stdout lines (its JSON log lines, `worker` included) go, one line without the newline. */
  readonly writeLog: (line: string) => void;
  /** Where a worker's stderr lines go. */
  readonly writeStderr: (line: string) => void;
  /** The worker entry module. Default: workerMain next to this module (.ts from source, .js compiled). */
  readonly entry?: string;
  /** Node options for the workers. Default: the primary's (`process.execArgv`, e.g. `--import tsx`). */
  readonly execArgv?: readonly string[];
  readonly restart?: { readonly initialMs?: number; readonly maxMs?: number; readonly stableMs?: number };
  /** How long a scrape waits for a worker's metrics. Default 5000 ms. */
  readonly metricsTimeoutMs?: number;
}

/** A worker could not start: the run ends with its exit code and message. */
export class WorkerStartError extends Error {
  override name = 'WorkerStartError';
  constructor(
    readonly worker: number,
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Supervisor {
  /** Forks every worker; resolves once each has started its engine, rejects with `WorkerStartError` otherwise. */
  start(): Promise<void>;
  /** Ready only when every worker is; reasons prefixed `worker <n>: `. */
  readiness(): Readiness;
  /** The workers' metrics aggregated, with the primary's own. */
  metrics(): Promise<string>;
  readonly contentType: string;
  /** Stops every worker gracefully; rejects naming the workers that did not stop cleanly. */
  stop(): Promise<void>;
}

export interface WorkerReadiness {
  readonly worker: number;
  readonly readiness: Readiness;
}

/** Ready when every worker is ready and nothing is stopping; each worker's reasons prefixed by its number. */
export function combineReadiness(workers: readonly WorkerReadiness[], stopping: boolean): Readiness {
  const reasons = [
    ...(stopping ? ['workers stopping'] : []),
    ...workers.flatMap(({ worker, readiness }) =>
      readiness.ready
        ? []
        : (readiness.reasons.length > 0 ? readiness.reasons : ['not ready']).map((r) => `worker ${worker}: ${r}`),
    ),
  ];
  return { ready: reasons.length === 0, reasons };
}

interface Slot {
  readonly worker: number;
  child: ChildProcess | undefined;
  readiness: Readiness;
  started: boolean;
  startedAt: number;
  /** Consecutive quick deaths, for the backoff. */
  attempt: number;
  restartTimer: NodeJS.Timeout | undefined;
  exited: Promise<void> | undefined;
  lastSnapshot: WorkerMetricsSnapshot | undefined;
  startFailure: { exitCode: number; message: string } | undefined;
  stopCode: number | string | undefined;
  /** Sent `loaded` and waits for `join` (false again once it was told to join). */
  waitingToJoin: boolean;
}

function defaultEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./workerMain${extname(here)}`, import.meta.url));
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const { logger } = options;
  const initialMs = options.restart?.initialMs ?? 1_000;
  const maxMs = options.restart?.maxMs ?? 30_000;
  const stableMs = options.restart?.stableMs ?? 60_000;
  const metricsTimeoutMs = options.metricsTimeoutMs ?? 5_000;
  const entry = options.entry ?? defaultEntry();
  const own = createWorkerMetrics(options.workers);
  const slots: Slot[] = Array.from({ length: options.workers }, (_, i) => ({
    worker: i + 1,
    child: undefined,
    readiness: { ready: false, reasons: ['starting'] },
    started: false,
    startedAt: 0,
    attempt: 0,
    restartTimer: undefined,
    exited: undefined,
    lastSnapshot: undefined,
    startFailure: undefined,
    stopCode: undefined,
    waitingToJoin: false,
  }));
  /** Counters and histograms of worker processes that exited. */
  const retired: WorkerMetricsSnapshot[] = [];
  let initialStart: { resolve: () => void; reject: (error: WorkerStartError) => void } | undefined;
  let initialPhase = true;
  let stopping = false;
  let nextRequest = 1;
  const pending = new Map<number, { slot: Slot; done: (snapshot: WorkerMetricsSnapshot | undefined) => void }>();

  const killAll = () => {
    for (const slot of slots) slot.child?.kill('SIGKILL');
  };

  function checkAllStarted(): void {
    if (initialPhase && slots.every((slot) => slot.started)) {
      initialPhase = false;
      initialStart?.resolve();
    }
  }

  function join(slot: Slot): void {
    slot.waitingToJoin = false;
    const child = slot.child;
    if (!child?.connected) return;
    const message: ToWorker = { type: 'join' };
    child.send(message, (error) => {
      if (error) logger.warn({ worker: slot.worker, err: error }, `worker ${slot.worker}: could not tell it to join`);
    });
  }

  /**
   * The workers of the first start join their groups together, once all of them have loaded: a group whose members
   * join one by one rebalances once more per member, and each rebalance stops every member and hands records that
   * moved to another worker (at-least-once: they are processed again). A worker restarted later joins at once.
   */
  function onLoaded(slot: Slot): void {
    slot.waitingToJoin = true;
    if (stopping) return;
    if (!initialPhase) {
      join(slot);
      return;
    }
    if (slots.every((s) => s.waitingToJoin || s.started)) for (const s of slots) if (s.waitingToJoin) join(s);
  }

  function onMessage(slot: Slot, message: FromWorker): void {
    switch (message.type) {
      case 'loaded':
        onLoaded(slot);
        return;
      case 'started':
        slot.started = true;
        slot.startedAt = Date.now();
        logger.info({ worker: slot.worker, workerPid: slot.child?.pid }, `worker ${slot.worker} started`);
        checkAllStarted();
        return;
      case 'startFailed':
        slot.startFailure = { exitCode: message.exitCode, message: message.message };
        return;
      case 'status':
        slot.readiness = message.readiness;
        return;
      case 'metrics': {
        const request = pending.get(message.id);
        if (request === undefined) return;
        pending.delete(message.id);
        if ('metrics' in message) {
          slot.lastSnapshot = message.metrics;
          request.done(message.metrics);
        } else {
          logger.warn({ worker: slot.worker }, `worker ${slot.worker} could not collect its metrics: ${message.error}`);
          request.done(undefined);
        }
        return;
      }
    }
  }

  function onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = undefined;
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
    for (const [id, request] of pending) {
      if (request.slot === slot) {
        pending.delete(id);
        request.done(undefined);
      }
    }
    if (slot.lastSnapshot !== undefined) retired.push(retainedTotals(slot.lastSnapshot));
    slot.lastSnapshot = undefined;
    const wasStarted = slot.started;
    slot.started = false;

    if (stopping) {
      // A worker that had already said it cannot start is not a failed stop.
      if (slot.startFailure === undefined) slot.stopCode = code ?? signal ?? 'unknown';
      slot.readiness = { ready: false, reasons: [`stopped (${how})`] };
      return;
    }
    if (initialPhase && !wasStarted) {
      const failure = slot.startFailure ?? {
        exitCode: 1,
        message: `tributary: worker ${slot.worker} exited while starting (${how})`,
      };
      slot.readiness = { ready: false, reasons: [`could not start (${how})`] };
      initialStart?.reject(new WorkerStartError(slot.worker, failure.exitCode, failure.message));
      return;
    }
    const ranMs = wasStarted ? Date.now() - slot.startedAt : 0;
    slot.attempt = ranMs >= stableMs ? 1 : slot.attempt + 1;
    const delay = backoffDelay(slot.attempt, initialMs, maxMs);
    const why = slot.startFailure?.message ?? how;
    slot.readiness = { ready: false, reasons: [`exited (${how}); restarting in ${seconds(delay)}`] };
    logger.error(
      { worker: slot.worker, code, signal, restartInMs: delay },
      `worker ${slot.worker} exited unexpectedly (${why}); restarting in ${seconds(delay)}`,
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (stopping) return;
      own.restarted(slot.worker);
      spawn(slot);
    }, delay);
  }

  function spawn(slot: Slot): void {
    slot.started = false;
    slot.waitingToJoin = false;
    slot.startFailure = undefined;
    slot.readiness = { ready: false, reasons: ['starting'] };
    const child = fork(entry, [String(slot.worker), ...options.paths], {
      cwd: options.cwd,
      env: options.env,
      execArgv: [...(options.execArgv ?? process.execArgv)],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    slot.child = child;
    if (child.stdout) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', options.writeLog);
    if (child.stderr) createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', options.writeStderr);
    child.on('message', (message: unknown) => {
      if (isFromWorker(message)) onMessage(slot, message);
    });
    child.on('error', (error) =>
      logger.error({ worker: slot.worker, err: error }, `worker ${slot.worker}: ${error.message}`),
    );
    slot.exited = new Promise((done) => {
      // 'close', not 'exit': the worker's last log lines are read before it counts as gone
      child.once('close', (code, signal) => {
        onExit(slot, child, code, signal);
        done();
      });
    });
  }

  function ask(slot: Slot): Promise<WorkerMetricsSnapshot | undefined> {
    const child = slot.child;
    if (child === undefined || !child.connected || !slot.started) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const id = nextRequest++;
      const timer = setTimeout(() => {
        pending.delete(id);
        logger.warn(
          { worker: slot.worker },
          `worker ${slot.worker} did not send its metrics within ${metricsTimeoutMs} ms`,
        );
        resolve(undefined);
      }, metricsTimeoutMs);
      timer.unref();
      pending.set(id, {
        slot,
        done: (snapshot) => {
          clearTimeout(timer);
          resolve(snapshot);
        },
      });
      const message: ToWorker = { type: 'metrics', id };
      child.send(message, (error) => {
        if (error && pending.delete(id)) {
          clearTimeout(timer);
          resolve(undefined);
        }
      });
    });
  }

  return {
    contentType: own.contentType,
    start() {
      process.on('exit', killAll);
      const started = new Promise<void>((resolve, reject) => {
        initialStart = { resolve, reject };
      });
      for (const slot of slots) spawn(slot);
      return started;
    },
    readiness() {
      return combineReadiness(
        slots.map(({ worker, readiness }) => ({ worker, readiness })),
        stopping,
      );
    },
    async metrics() {
      const answers = await Promise.all(slots.map((slot) => ask(slot)));
      own.answered(new Map(slots.map((slot, i) => [slot.worker, answers[i] !== undefined])));
      const snapshots = answers.filter((s): s is WorkerMetricsSnapshot => s !== undefined);
      return own.exposition([...snapshots, ...retired]);
    },
    async stop() {
      stopping = true;
      initialPhase = false;
      for (const slot of slots) {
        if (slot.restartTimer !== undefined) clearTimeout(slot.restartTimer);
        slot.restartTimer = undefined;
        const child = slot.child;
        if (child?.connected) {
          const message: ToWorker = { type: 'stop' };
          child.send(message, (error) => {
            if (error) child.kill('SIGTERM');
          });
        }
      }
      await Promise.all(slots.map((slot) => (slot.child === undefined ? undefined : slot.exited)));
      process.off('exit', killAll);
      const failed = slots.filter((slot) => slot.stopCode !== undefined && slot.stopCode !== 0);
      if (failed.length > 0) {
        throw new Error(
          failed.map((slot) => `worker ${slot.worker} exited with ${slot.stopCode} while stopping`).join('; '),
        );
      }
    },
  };
}
