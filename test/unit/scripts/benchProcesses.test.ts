/** What the benchmark reads of other processes (/proc): their children, and their peak RSS. Linux only. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { childPids, highWaterMarkMb } from '../../../bench/support.js';

describe.runIf(process.platform === 'linux')('bench process helpers', () => {
  it('childPids lists the processes this one started, and no others', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)'], { stdio: 'ignore' });
    try {
      await new Promise((done) => child.once('spawn', done));
      const pid = child.pid as number;
      expect(childPids(process.pid)).toContain(pid);
      expect(childPids(pid)).toEqual([]);
    } finally {
      child.kill();
    }
  });

  it("highWaterMarkMb reads a process's peak RSS, 0 for a process that does not exist", () => {
    const peak = highWaterMarkMb(process.pid);
    expect(peak).toBeGreaterThanOrEqual(process.memoryUsage().rss / 2 ** 20 - 1);
    expect(highWaterMarkMb(2 ** 22 + 12_345)).toBe(0);
  });
});
