import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Import the package's TypeScript sources (package.json "exports" condition) instead of dist/.
    conditions: ['tributary-source'],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    // Integration tests talk to a real broker: group joins and rebalances take seconds, not milliseconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    pool: 'forks',
    // heap measurements (backpressure test) call gc() before taking a baseline
    execArgv: ['--expose-gc'],
    env: { KAFKAJS_NO_PARTITIONER_WARNING: '1' },
  },
});
