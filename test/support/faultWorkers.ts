/** Engine processes (test/fixtures/faultWorker.ts) that a fault test starts and kills with SIGKILL. */
import { join } from 'node:path';
import { type Child, spawnTs } from './childProcess.js';

const worker = join(import.meta.dirname, '..', 'fixtures', 'faultWorker.ts');

/** faultWorker's environment (see the fixture); every value is a string, as in a real process environment. */
export interface FaultWorkerEnv {
  KAFKA_BROKERS: string;
  IN: string;
  OUT: string;
  DLQ: string;
  GROUP: string;
  ORDERING?: 'partition' | 'key' | 'unordered';
  WORK_MS?: string;
  WORK_MIN_MS?: string;
  MAX_IN_FLIGHT?: string;
  COMMIT_INTERVAL_MS?: string;
  SESSION_TIMEOUT_MS?: string;
  HEARTBEAT_INTERVAL_MS?: string;
}

/** Spawns a worker and resolves once it has joined its group (killed when the test ends if still running). */
export async function startFaultWorker(env: FaultWorkerEnv, readyTimeoutMs = 60_000): Promise<Child> {
  const child = spawnTs(worker, { ...env });
  await child.waitForOutput('ready', readyTimeoutMs);
  return child;
}

/** SIGKILL: no drain, no final commit, no leaving the group (the coordinator waits for the session timeout). */
export async function killWorker(child: Child): Promise<void> {
  child.process.kill('SIGKILL');
  await child.exited();
}
