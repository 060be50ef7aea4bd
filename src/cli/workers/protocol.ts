/**
 * The messages between the primary (`tributary run` with TRIBUTARY_WORKERS > 1) and its engine workers, over the
 * child processes' IPC channel (advanced serialization). Workers are numbered from 1.
 */
import type { WorkerMetricsSnapshot } from '../../../metrics/workerMetrics.js';
import type { Readiness } from '../../http/server.js';

/** Primary → worker. */
export type ToWorker =
  /**
   * Start the engine: join the groups. Sent once every worker of the first start has `loaded` (so that they join
   * together, in one rebalance), and at once to a worker restarted later.
   */
  | { readonly type: 'join' }
  /** Answer with a `metrics` message carrying the same id. */
  | { readonly type: 'metrics'; readonly id: number }
  /** Stop gracefully (drain, commit, leave the groups), then exit 0; exit 1 if the stop failed. */
  | { readonly type: 'stop' };

/** Worker → primary. */
export type FromWorker =
  /** Pipelines, configuration and the Kafka client library are loaded; the worker waits for `join` to start. */
  | { readonly type: 'loaded' }
  /** The engine runs (every pipeline started). */
  | { readonly type: 'started' }
  /** The engine could not start; the worker exits with `exitCode` right after (2 configuration, 1 Kafka). */
  | { readonly type: 'startFailed'; readonly exitCode: number; readonly message: string }
  /** Sent whenever the worker's readiness changes. */
  | { readonly type: 'status'; readonly readiness: Readiness }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: WorkerMetricsSnapshot }
  | { readonly type: 'metrics'; readonly id: number; readonly error: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isToWorker(value: unknown): value is ToWorker {
  return (
    isObject(value) &&
    (value.type === 'stop' || value.type === 'join' || (value.type === 'metrics' && typeof value.id === 'number'))
  );
}

export function isFromWorker(value: unknown): value is FromWorker {
  if (!isObject(value)) return false;
  switch (value.type) {
    case 'loaded':
    case 'started':
      return true;
    case 'startFailed':
      return typeof value.exitCode === 'number' && typeof value.message === 'string';
    case 'status':
      return isObject(value.readiness) && typeof value.readiness.ready === 'boolean';
    case 'metrics':
      return typeof value.id === 'number' && (Array.isArray(value.metrics) || typeof value.error === 'string');
    default:
      return false;
  }
}
