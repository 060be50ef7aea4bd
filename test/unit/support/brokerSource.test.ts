import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireBroker, NoBrokerError } from '../../support/brokerSource.js';

describe('acquireBroker', () => {
  it('fails with a clear message when no broker can be had (no KAFKA_BROKERS, no Docker, no java)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'tributary-nobroker-'));
    try {
      const attempt = acquireBroker({
        env: {},
        dockerReachable: async () => false,
        javaBin: '/nonexistent/bin/java',
        localPort: 19392,
        localStateDir: stateDir,
      });
      await expect(attempt).rejects.toBeInstanceOf(NoBrokerError);
      await expect(attempt).rejects.toThrow(/KAFKA_BROKERS is not set, no Docker engine answers/);
      await expect(attempt).rejects.toThrow(/Java .*\/nonexistent\/bin\/java.* was not found/);
      await expect(attempt).rejects.toThrow(/Java 17/);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('fails clearly when KAFKA_BROKERS points at nothing', async () => {
    const attempt = acquireBroker({ env: { KAFKA_BROKERS: '127.0.0.1:1' } });
    await expect(attempt).rejects.toThrow(/KAFKA_BROKERS=127.0.0.1:1 is set, but no broker answered/);
  });
});
