/**
 * Where the tests' Kafka broker comes from, in this order:
 *   1. KAFKA_BROKERS is set            → use that cluster as it is;
 *   2. a Docker engine answers /_ping   → Testcontainers' Kafka module;
 *   3. otherwise                        → the project's own local broker (scripts/kafka), on a test-only port.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import {
  describeCluster,
  LocalBrokerError,
  projectRoot,
  startLocalBroker,
  stopLocalBroker,
} from '../../scripts/kafka/localBroker.js';

export type BrokerSourceKind = 'KAFKA_BROKERS' | 'testcontainers' | 'local-broker';

export interface AcquiredBroker {
  bootstrap: string;
  source: BrokerSourceKind;
  clusterId: string;
  /** Milliseconds until the broker answered (0 for KAFKA_BROKERS). */
  startupMs: number;
  release(): Promise<void>;
}

export interface AcquireOptions {
  env?: NodeJS.ProcessEnv;
  /** Overridable for tests of the harness itself. */
  dockerReachable?: () => Promise<boolean>;
  javaBin?: string;
  localPort?: number;
  localStateDir?: string;
  log?: (line: string) => void;
}

export class NoBrokerError extends Error {
  override name = 'NoBrokerError';
}

/** True when a Docker engine answers GET /_ping on DOCKER_HOST or the default socket, within one second. */
export function dockerEngineReachable(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const host = env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  const target = host.startsWith('unix://')
    ? { socketPath: host.slice('unix://'.length) }
    : (() => {
        const url = new URL(host.replace(/^tcp:/, 'http:'));
        return { host: url.hostname, port: Number(url.port || 2375) };
      })();
  return new Promise((done) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => done(false));
    req.end();
  });
}

async function fromEnv(brokers: string): Promise<AcquiredBroker> {
  const first = brokers.split(',')[0]?.trim() ?? '';
  const clusterId = await describeCluster(first);
  if (clusterId === undefined) {
    throw new NoBrokerError(`KAFKA_BROKERS=${brokers} is set, but no broker answered a metadata request at ${first}.`);
  }
  return { bootstrap: brokers, source: 'KAFKA_BROKERS', clusterId, startupMs: 0, release: async () => {} };
}

async function fromTestcontainers(): Promise<AcquiredBroker> {
  const started = Date.now();
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const container = await new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start();
  const bootstrap = `${container.getHost()}:${container.getMappedPort(9093)}`;
  const clusterId = (await describeCluster(bootstrap)) ?? 'unknown';
  return {
    bootstrap,
    source: 'testcontainers',
    clusterId,
    startupMs: Date.now() - started,
    release: async () => {
      await container.stop();
    },
  };
}

async function fromLocalBroker(options: AcquireOptions): Promise<AcquiredBroker> {
  const env = options.env ?? process.env;
  const port = options.localPort ?? Number(env.TRIBUTARY_TEST_KAFKA_PORT ?? 19092);
  const stateDir = options.localStateDir ?? join(projectRoot, '.tributary', `kafka-test-${port}`);
  const brokerOptions = {
    port,
    stateDir,
    heapMb: 512,
    ...(options.javaBin === undefined ? {} : { javaBin: options.javaBin }),
    ...(options.log === undefined ? {} : { log: options.log }),
  };
  try {
    const broker = await startLocalBroker(brokerOptions);
    return {
      bootstrap: broker.bootstrap,
      source: 'local-broker',
      clusterId: broker.clusterId,
      startupMs: broker.startupMs,
      release: async () => {
        await stopLocalBroker(brokerOptions);
      },
    };
  } catch (error) {
    if (error instanceof LocalBrokerError) {
      throw new NoBrokerError(
        `No Kafka broker for the tests: KAFKA_BROKERS is not set, no Docker engine answers, and the local broker failed.\n${error.message}`,
      );
    }
    throw error;
  }
}

export async function acquireBroker(options: AcquireOptions = {}): Promise<AcquiredBroker> {
  const env = options.env ?? process.env;
  const brokers = env.KAFKA_BROKERS?.trim();
  if (brokers) return fromEnv(brokers);
  const dockerReachable = options.dockerReachable ?? (() => dockerEngineReachable(env));
  if (await dockerReachable()) return fromTestcontainers();
  return fromLocalBroker(options);
}
