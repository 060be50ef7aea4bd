/** vitest globalSetup: one broker for the whole run, handed to the tests through `inject('kafkaBootstrap')`. */
import type { TestProject } from 'vitest/node';
import { acquireBroker } from './brokerSource.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBootstrap: string;
    kafkaClusterId: string;
    kafkaSource: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const broker = await acquireBroker({ log: (line) => console.error(`[kafka] ${line}`) });
  console.error(
    `[kafka] tests use ${broker.source} at ${broker.bootstrap}, cluster id ${broker.clusterId}` +
      (broker.startupMs > 0 ? ` (answered after ${broker.startupMs} ms)` : ''),
  );
  project.provide('kafkaBootstrap', broker.bootstrap);
  project.provide('kafkaClusterId', broker.clusterId);
  project.provide('kafkaSource', broker.source);
  return async () => {
    await broker.release();
  };
}
