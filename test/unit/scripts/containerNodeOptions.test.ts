/**
 * The image's Node options (its heap sizing) are what the workload benchmark runs Tributary with: the bench reads them
 * from the Dockerfile. They must be options this Node accepts, and they must really cap the heap.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { containerNodeOptions, TRIBUTARY, TRIBUTARY_KAFKAJS } from '../../../bench/workload/contenders.js';

describe("the image's Node options", () => {
  it('are read from the Dockerfile, and the bench runs Tributary with them', () => {
    const options = containerNodeOptions();
    expect(options).toContain('--max-old-space-size=512');
    expect(TRIBUTARY.nodeOptions).toEqual(options);
    expect(TRIBUTARY_KAFKAJS.nodeOptions).toEqual(options);
  });

  it('are accepted by Node in NODE_OPTIONS and cap the heap', () => {
    const options = containerNodeOptions();
    const run = (nodeOptions: string) =>
      spawnSync(process.execPath, ['-e', "console.log(require('v8').getHeapStatistics().heap_size_limit)"], {
        env: { ...process.env, NODE_OPTIONS: nodeOptions },
        encoding: 'utf8',
      });
    const capped = run(options.join(' '));
    expect(capped.stderr).toBe('');
    expect(capped.status).toBe(0);
    const limitMb = Number(capped.stdout.trim()) / 2 ** 20;
    // old space plus the young generation (3 semi-spaces' worth at most)
    expect(limitMb).toBeGreaterThanOrEqual(512);
    expect(limitMb).toBeLessThan(512 + 3 * 16 + 16);
  });

  it('a Dockerfile without NODE_OPTIONS is refused with a message naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-dockerfile-'));
    const file = join(dir, 'Dockerfile');
    writeFileSync(file, 'FROM node:24-slim\nENV HTTP_PORT=9464\n');
    expect(() => containerNodeOptions(file)).toThrow(`${file} sets no NODE_OPTIONS`);
  });
});
