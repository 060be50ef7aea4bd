/**
 * The workload benchmark runs Tributary as the image does (the Dockerfile's NODE_OPTIONS, read from the Dockerfile)
 * and with the capped heap that docs/operations.md recommends for bounded memory. Both must be options this Node
 * accepts, and the cap must really cap the heap.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CAPPED_HEAP_OPTIONS,
  containerNodeOptions,
  TRIBUTARY,
  TRIBUTARY_CAPPED_HEAP,
  TRIBUTARY_KAFKAJS,
} from '../../../bench/workload/contenders.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function heapLimitMb(nodeOptions: string): number {
  const run = spawnSync(process.execPath, ['-e', "console.log(require('v8').getHeapStatistics().heap_size_limit)"], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    encoding: 'utf8',
  });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return Number(run.stdout.trim()) / 2 ** 20;
}

describe('the Node options of the benchmark', () => {
  it("(a) and (a'') run with the Dockerfile's NODE_OPTIONS, read from the Dockerfile (none: Node's defaults)", () => {
    expect(TRIBUTARY.nodeOptions).toEqual(containerNodeOptions());
    expect(TRIBUTARY_KAFKAJS.nodeOptions).toEqual(containerNodeOptions());
    const dir = mkdtempSync(join(tmpdir(), 'tributary-dockerfile-'));
    const file = join(dir, 'Dockerfile');
    writeFileSync(
      file,
      'FROM node:24-slim\nENV HTTP_PORT=9464 \\\n    NODE_OPTIONS="--max-old-space-size=300  --trace-gc"\n',
    );
    expect(containerNodeOptions(file)).toEqual(['--max-old-space-size=300', '--trace-gc']);
    writeFileSync(file, 'FROM node:24-slim\nENV HTTP_PORT=9464\n');
    expect(containerNodeOptions(file)).toEqual([]);
  });

  it('the image options are accepted by Node', () => {
    heapLimitMb(containerNodeOptions().join(' '));
  });

  it("the capped heap is what docs/operations.md shows, and caps V8's heap near 512 MB", () => {
    expect(TRIBUTARY_CAPPED_HEAP.nodeOptions).toEqual(CAPPED_HEAP_OPTIONS);
    expect(readFileSync(join(root, 'docs', 'operations.md'), 'utf8')).toContain(
      `NODE_OPTIONS="${CAPPED_HEAP_OPTIONS.join(' ')}"`,
    );
    const limitMb = heapLimitMb(CAPPED_HEAP_OPTIONS.join(' '));
    // old space plus the young generation (3 semi-spaces' worth at most)
    expect(limitMb).toBeGreaterThanOrEqual(512);
    expect(limitMb).toBeLessThan(512 + 3 * 16 + 16);
    expect(heapLimitMb('')).toBeGreaterThan(limitMb);
  });
});
