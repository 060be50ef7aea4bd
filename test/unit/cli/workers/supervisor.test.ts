import { describe, expect, it } from 'vitest';
import { isFromWorker, isToWorker } from '../../../../src/cli/workers/protocol.js';
import { combineReadiness } from '../../../../src/cli/workers/supervisor.js';

describe('combineReadiness', () => {
  const ready = { ready: true, reasons: [] };

  it('is ready only when every worker is', () => {
    expect(
      combineReadiness(
        [
          { worker: 1, readiness: ready },
          { worker: 2, readiness: ready },
        ],
        false,
      ),
    ).toEqual({ ready: true, reasons: [] });
  });

  it("prefixes each worker's reasons with its number", () => {
    expect(
      combineReadiness(
        [
          { worker: 1, readiness: ready },
          {
            worker: 2,
            readiness: {
              ready: false,
              reasons: ['pipeline orders: waiting to join its group', 'producer not connected'],
            },
          },
          { worker: 3, readiness: { ready: false, reasons: [] } },
        ],
        false,
      ),
    ).toEqual({
      ready: false,
      reasons: [
        'worker 2: pipeline orders: waiting to join its group',
        'worker 2: producer not connected',
        'worker 3: not ready',
      ],
    });
  });

  it('is not ready while the workers stop, even if they still say ready', () => {
    expect(combineReadiness([{ worker: 1, readiness: ready }], true)).toEqual({
      ready: false,
      reasons: ['workers stopping'],
    });
  });
});

describe('protocol guards', () => {
  it('accept the messages of each side and nothing else', () => {
    expect(isToWorker({ type: 'stop' })).toBe(true);
    expect(isToWorker({ type: 'join' })).toBe(true);
    expect(isToWorker({ type: 'metrics', id: 3 })).toBe(true);
    expect(isToWorker({ type: 'metrics' })).toBe(false);
    expect(isToWorker('stop')).toBe(false);
    expect(isFromWorker({ type: 'started' })).toBe(true);
    expect(isFromWorker({ type: 'loaded' })).toBe(true);
    expect(isFromWorker({ type: 'startFailed', exitCode: 1, message: 'x' })).toBe(true);
    expect(isFromWorker({ type: 'status', readiness: { ready: false, reasons: ['starting'] } })).toBe(true);
    expect(isFromWorker({ type: 'metrics', id: 1, metrics: [] })).toBe(true);
    expect(isFromWorker({ type: 'metrics', id: 1, error: 'boom' })).toBe(true);
    expect(isFromWorker({ type: 'metrics', id: 1 })).toBe(false);
    expect(isFromWorker({ type: 'stop' })).toBe(false);
    expect(isFromWorker(null)).toBe(false);
  });
});
