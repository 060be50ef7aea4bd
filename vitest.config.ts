import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests talk to a real broker: group joins and rebalances take seconds, not milliseconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    pool: 'forks',
    // heap measurements (backpressure test) call gc() before taking a baseline
    execArgv: ['--expose-gc'],
    env: { KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    projects: [
      // no broker, no Java: `npm run test:unit`
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // expectTypeOf/assertType only mean something to the compiler: tsc checks the project (tsconfig.json) in
          // the same run and a type error fails it, in a unit test (reported against that test) or anywhere else.
          // Files whose tests a shared suite defines (describeKafkaClientPort) have none for the static collector,
          // which vitest 5 reports as "No test suite found"; tsc still checks them (an error there fails the run).
          typecheck: {
            enabled: true,
            include: ['test/unit/**/*.test.ts'],
            exclude: ['test/unit/**/*.conformance.test.ts'],
            tsconfig: 'tsconfig.json',
          },
          // the test files share their workers' module cache: a third of the CPU time of isolated workers, which spent
          // most of theirs importing the same modules again (unit tests hold no global state: no broker, no mocks of
          // modules, each test builds its own clients and clocks)
          isolate: false,
        },
      },
      // the packed package installed in a fresh user project (npm pack, npm install from the registry or npm's cache);
      // no broker: `npm run test:package`
      {
        extends: true,
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          // packing builds the package, installing fetches its peer dependencies: minutes on a busy machine
          testTimeout: 300_000,
          hookTimeout: 900_000,
        },
      },
      // one real broker for the whole run (KAFKA_BROKERS, Docker, or the project's local one)
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
        },
      },
    ],
  },
});
