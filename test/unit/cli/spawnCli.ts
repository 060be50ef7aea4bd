/** The CLI as a child process (from source, through tsx), for integration tests that need exit codes and signals. */
import { join } from 'node:path';
import { type Child, spawnTs } from '../../support/childProcess.js';
import { testKafkaLibrary } from '../../support/testClient.js';

const root = join(import.meta.dirname, '..', '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');

/** Variables of the test process that must not leak into the child's configuration. */
export const CLEAN: Record<string, undefined> = {
  KAFKA_BROKERS: undefined,
  KAFKA_SASL_MECHANISM: undefined,
  KAFKA_USERNAME: undefined,
  KAFKA_PASSWORD: undefined,
  KAFKA_SSL: undefined,
  KAFKA_SSL_CA_FILE: undefined,
  HTTP_PORT: undefined,
  LOG_LEVEL: undefined,
  TRIBUTARY_WORKERS: undefined,
};

export type CliChild = Child;

/** Runs the CLI from source in a child process; killed when the test finishes if still running. */
export function spawnCli(args: readonly string[], env: Record<string, string | undefined>): CliChild {
  return spawnTs(main, { ...CLEAN, KAFKA_CLIENT: testKafkaLibrary(), ...env }, args, root);
}

/** A port nobody listens on right now. */
export { freePort } from '../../../scripts/freePort.js';
