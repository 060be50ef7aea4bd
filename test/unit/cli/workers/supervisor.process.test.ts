/**
 * The supervisor with fake worker processes (a few lines of plain JavaScript that speak the protocol), no Kafka:
 * start, restart after a crash, a worker that cannot start, graceful stop.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createSupervisor, WorkerStartError } from '../../../../src/cli/workers/supervisor.js';
import { eventually } from '../../../support/engine.js';
import { sampleValue } from '../../../unit/metrics/promText.js';

const dir = mkdtempSync(join(tmpdir(), 'tributary-supervisor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// argv: <worker> [mode]; modes: crash-once (exits 3 shortly after starting, the first time), fail-start, and
// load-then-join (sends loaded, worker 2 only after 300 ms, and starts when told to join; crashes once after starting)
const entry = join(dir, 'fakeWorker.mjs');
writeFileSync(
  entry,
  `
import { existsSync, writeFileSync } from 'node:fs';
const [worker, mode] = process.argv.slice(2);
const marker = process.env.CRASH_MARKER + '-' + worker;
if (mode === 'fail-start') {
  process.send({ type: 'startFailed', exitCode: 1, message: 'tributary: start-up failed: nope' });
  setTimeout(() => process.exit(1), 20);
} else if (mode === 'load-then-join') {
  const log = (msg) => console.log(JSON.stringify({ worker: Number(worker), msg, at: Date.now() }));
  process.on('message', (m) => {
    if (m.type === 'join') {
      log('join');
      process.send({ type: 'status', readiness: { ready: true, reasons: [] } });
      process.send({ type: 'started' });
      if (worker === '1' && !existsSync(marker)) {
        writeFileSync(marker, '');
        setTimeout(() => process.exit(3), 100);
      }
    }
    if (m.type === 'stop') process.exit(0);
    if (m.type === 'metrics') process.send({ type: 'metrics', id: m.id, metrics: [] });
  });
  setTimeout(() => {
    log('loaded');
    process.send({ type: 'loaded' });
  }, worker === '2' ? 300 : 0);
} else {
  console.log(JSON.stringify({ worker: Number(worker), msg: 'fake worker up' }));
  process.send({ type: 'status', readiness: { ready: true, reasons: [] } });
  process.send({ type: 'started' });
  if (mode === 'crash-once' && !existsSync(marker)) {
    writeFileSync(marker, '');
    setTimeout(() => process.exit(3), 100);
  }
  process.on('message', (m) => {
    if (m.type === 'stop') process.exit(0);
    if (m.type === 'metrics') process.send({ type: 'metrics', id: m.id, metrics: [] });
  });
}
`,
);

function supervisor(workers: number, mode: string, marker: string, lines: string[]) {
  return createSupervisor({
    workers,
    paths: [mode],
    cwd: dir,
    env: { ...process.env, CRASH_MARKER: marker },
    logger: pino({ level: 'silent' }),
    writeLog: (line) => lines.push(line),
    writeStderr: (line) => lines.push(`stderr: ${line}`),
    entry,
    execArgv: [],
    restart: { initialMs: 50, maxMs: 200, stableMs: 60_000 },
  });
}

describe('createSupervisor with fake workers', () => {
  it('restarts a worker that exits unexpectedly, counts the restart, and stops every worker', async () => {
    const lines: string[] = [];
    const marker = join(dir, 'crash');
    const s = supervisor(2, 'crash-once', marker, lines);
    await s.start();
    expect(s.readiness()).toEqual({ ready: true, reasons: [] });
    await eventually(async () => existsSync(`${marker}-1`) && existsSync(`${marker}-2`), 'both crashed once');
    await eventually(async () => {
      const text = await s.metrics();
      return (
        sampleValue(text, 'tributary_worker_restarts_total', { worker: '1' }) === 1 &&
        sampleValue(text, 'tributary_worker_restarts_total', { worker: '2' }) === 1 &&
        s.readiness().ready
      );
    }, 'both restarted and ready again');
    const text = await s.metrics();
    expect(sampleValue(text, 'tributary_worker_up', { worker: '1' })).toBe(1);
    expect(sampleValue(text, 'tributary_workers')).toBe(2);
    await s.stop();
    expect(s.readiness().ready).toBe(false);
    // each worker logged twice (first start and restart), relayed line by line
    expect(lines.filter((l) => l.includes('fake worker up'))).toHaveLength(4);
  }, 20_000);

  it('tells the workers of the first start to join together, once all loaded; a restarted one joins at once', async () => {
    const lines: string[] = [];
    const marker = join(dir, 'join');
    const s = supervisor(2, 'load-then-join', marker, lines);
    await s.start();
    const events = () =>
      lines.map((l) => JSON.parse(l) as { worker: number; msg: string; at: number }).filter((e) => e.msg !== '');
    const at = (worker: number, msg: string) => events().filter((e) => e.worker === worker && e.msg === msg);
    const lastLoaded = Math.max(...[1, 2].map((w) => (at(w, 'loaded')[0] as { at: number }).at));
    // worker 1 loaded 300 ms before worker 2 and still waited for it
    expect((at(1, 'join')[0] as { at: number }).at).toBeGreaterThanOrEqual(lastLoaded);
    expect((at(2, 'join')[0] as { at: number }).at).toBeGreaterThanOrEqual(lastLoaded);
    // worker 1 crashed once after starting; restarted, it is told to join without waiting for anyone
    await eventually(async () => at(1, 'join').length === 2, 'worker 1 restarted and joined');
    expect(at(1, 'loaded')).toHaveLength(2);
    expect(at(2, 'join')).toHaveLength(1);
    await s.stop();
  }, 20_000);

  it('rejects start with the exit code and message of a worker that cannot start', async () => {
    const s = supervisor(2, 'fail-start', join(dir, 'unused'), []);
    const error = await s.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerStartError);
    expect((error as WorkerStartError).exitCode).toBe(1);
    expect((error as WorkerStartError).message).toBe('tributary: start-up failed: nope');
    await s.stop();
  }, 20_000);
});
