/**
 * SASL/SCRAM for real: this file starts its own local broker with a SASL_PLAINTEXT SCRAM-SHA-256 listener and a user
 * created at format time (StorageTool format --add-scram), on ports of its own, and stops it afterwards.
 * Right credentials (configured from the environment, as in production) produce, consume and run a pipeline; a wrong
 * password gives one readable line and a non-zero exit after a single authentication attempt. It runs on kafkajs and
 * reads kafkajs' own log lines; tls.test.ts checks a wrong password over SASL_SSL on both adapters.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  type LocalBroker,
  type LocalBrokerOptions,
  projectRoot,
  startLocalBroker,
  stopLocalBroker,
} from '../../../scripts/kafka/localBroker.js';
import { startTributary } from '../../../src/cli/startTributary.js';
import { loadConfig } from '../../../src/config/loadConfig.js';
import { type ConsumedRecord, createKafkajsClient, definePipeline, parseJson, publish } from '../../../src/index.js';
import { eventually, testLogger } from '../../support/engine.js';
import { freePort, spawnCli } from '../../unit/cli/spawnCli.js';

const USER = 'alice';
const PASSWORD = 'secret-4-alice';
const brokerOptions: LocalBrokerOptions = {
  port: 19292,
  controllerPort: 19293,
  saslPort: 19294,
  stateDir: join(projectRoot, '.tributary', 'kafka-scram-19292'),
  heapMb: 384,
  scram: { username: USER, password: PASSWORD, mechanism: 'SCRAM-SHA-256' },
};
let broker: LocalBroker;

beforeAll(async () => {
  broker = await startLocalBroker(brokerOptions);
  console.info(`[scram] broker ${broker.alreadyRunning ? 'reused' : `started in ${broker.startupMs} ms`}`);
}, 120_000);

afterAll(async () => {
  await stopLocalBroker(brokerOptions);
});

function scramEnv(password: string): NodeJS.ProcessEnv {
  return {
    KAFKA_BROKERS: broker.saslBootstrap ?? '',
    KAFKA_SASL_MECHANISM: 'scram-sha-256',
    KAFKA_USERNAME: USER,
    KAFKA_PASSWORD: password,
    KAFKA_CLIENT: 'kafkajs',
  };
}

/** Lines of the broker's own log that record a failed authentication. */
function failedAuthentications(): number {
  return readFileSync(broker.logFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('Failed authentication with')).length;
}

describe('SASL/SCRAM-SHA-256 against a real broker, on kafkajs', () => {
  it('serves SCRAM on its own listener and keeps PLAINTEXT', () => {
    expect(broker.bootstrap).toBe('127.0.0.1:19292');
    expect(broker.saslBootstrap).toBe('127.0.0.1:19294');
    const props = readFileSync(join(broker.stateDir, 'server.properties'), 'utf8');
    expect(props).toContain(
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
    );
    expect(props).toContain('sasl.enabled.mechanisms=SCRAM-SHA-256');
    expect(props).not.toContain(PASSWORD);
  });

  it('right credentials from the environment: create a topic, produce and consume through createKafkajsClient', async () => {
    const config = loadConfig(scramEnv(PASSWORD));
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-256', username: USER, password: PASSWORD });
    const client = createKafkajsClient({ ...config.kafka, logger: testLogger });
    const topic = `scram-roundtrip-${Date.now()}`;
    const admin = client.admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    expect(await admin.createTopics([{ topic, partitions: 2, replicationFactor: 1 }])).toEqual([topic]);

    const producer = client.producer();
    await producer.connect();
    await producer.send(Array.from({ length: 50 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })));
    await producer.disconnect();

    const consumer = client.consumer({ groupId: `scram-reader-${Date.now()}` });
    const received: ConsumedRecord[] = [];
    await consumer.connect();
    onTestFinished(() => consumer.disconnect());
    await consumer.subscribe([topic], true);
    await consumer.run(async (batch, control) => {
      received.push(...batch.records);
      control.advanceTo(batch.endOffset);
    });
    await eventually(() => received.length >= 50, '50 records over SCRAM');
    expect(new Set(received.map((r) => r.value?.toString()))).toEqual(
      new Set(Array.from({ length: 50 }, (_, i) => `v${i}`)),
    );
    const ends = await admin.endOffsets(topic);
    expect(ends.reduce((sum, p) => sum + Number(p.high), 0)).toBe(50);
  });

  it('right credentials: a pipeline runs over SCRAM and /readyz turns 200', async () => {
    const config = loadConfig(scramEnv(PASSWORD));
    const client = createKafkajsClient({ ...config.kafka, logger: testLogger });
    const suffix = Date.now();
    const [input, output, dlq] = ['in', 'out', 'dlq'].map((t) => `scram-${t}-${suffix}`) as [string, string, string];
    const admin = client.admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    await admin.createTopics([input, output, dlq].map((topic) => ({ topic, partitions: 1, replicationFactor: 1 })));
    const producer = client.producer();
    await producer.connect();
    await producer.send([
      ...Array.from({ length: 20 }, (_, i) => ({ topic: input, key: null, value: JSON.stringify({ i }) })),
      { topic: input, key: null, value: '{broken' },
    ]);
    await producer.disconnect();

    const app = await startTributary({
      pipelines: [
        definePipeline({
          name: 'scram-relay',
          source: { topics: [input], groupId: `scram-relay-${suffix}` },
          deadLetter: { topic: dlq },
          commitIntervalMs: 200,
          build: (records) => records.pipe(parseJson(), publish(output)),
        }),
      ],
      kafka: { ...config.kafka },
      logger: testLogger,
      port: 0,
      host: '127.0.0.1',
    });
    onTestFinished(async () => {
      await app.stop();
      await app.close();
    });
    expect((await fetch(`http://127.0.0.1:${app.port}/readyz`)).status).toBe(200);
    await eventually(async () => {
      const [out, dead] = await Promise.all([admin.endOffsets(output), admin.endOffsets(dlq)]);
      return out[0]?.high === 20n && dead[0]?.high === 1n;
    }, '20 published and 1 dead-lettered over SCRAM');
  });

  it('wrong password: tributary run prints one authentication line, exits 1, and tried once', async () => {
    const before = failedAuthentications();
    const started = Date.now();
    const child = spawnCli(['run', join('test', 'fixtures', 'pipelines', 'relay')], {
      ...scramEnv('not-the-password'),
      HTTP_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      RELAY_IN: 'scram-never-in',
    });
    expect(await child.exited(60_000)).toBe(1);
    const exitedAfterMs = Date.now() - started;
    expect(child.stderr()).toBe(
      'tributary: start-up failed: authentication failed for user alice (SCRAM-SHA-256) at 127.0.0.1:19294: ' +
        'check KAFKA_USERNAME, KAFKA_PASSWORD and KAFKA_SASL_MECHANISM (broker said: SASL SCRAM SHA256 ' +
        'authentication failed: Authentication failed during authentication due to invalid credentials with SASL ' +
        'mechanism SCRAM-SHA-256)\n',
    );
    const output = `${child.stdout()}${child.stderr()}`;
    expect(output).not.toContain('not-the-password');
    const logs = child
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; kafkajs?: { broker?: string; retryCount?: number } });
    // kafkajs' own error lines (forwarded at warn and above): one from the connection that authenticated, one from
    // the retrier giving up at once (retryCount 0: the error is not retriable)
    const failures = logs.filter((l) => l.msg.startsWith('kafkajs: SASL SCRAM SHA256 authentication failed'));
    const attempts = failures.filter((l) => l.kafkajs?.broker === '127.0.0.1:19294').length;
    // every line, for the failure message: which connection said what, in which order
    const seen = JSON.stringify(logs.map((l) => [l.msg.slice(0, 70), l.kafkajs ?? null]));
    expect(attempts, seen).toBe(1);
    expect(
      failures.filter((l) => l.kafkajs?.retryCount !== undefined).map((l) => l.kafkajs?.retryCount),
      seen,
    ).toEqual([0]);
    // one start-up line, after kafkajs gave up (a line of kafkajs' after it would be a second connection, which the
    // broker's own count below catches as well)
    const startUp = logs.findIndex((l) => l.msg.startsWith('start-up failed: '));
    expect(logs[startUp]?.msg, seen).toMatch(
      /^start-up failed: authentication failed for user alice \(SCRAM-SHA-256\)/,
    );
    expect(
      logs.filter((l) => l.msg.startsWith('start-up failed: ')),
      seen,
    ).toHaveLength(1);
    expect(startUp, seen).toBeGreaterThan(logs.indexOf(failures.at(-1) as (typeof logs)[number]));

    // The broker saw exactly one failed authentication, and no more arrive later (no background reconnects).
    await eventually(() => failedAuthentications() > before, 'the broker logged the failed authentication', 5_000);
    await new Promise((done) => setTimeout(done, 3_000));
    const failed = failedAuthentications() - before;
    expect(failed, seen).toBe(1);
    console.info(
      `[scram] wrong password: exit 1 after ${exitedAfterMs} ms, ${failed} failed authentication on the broker, ` +
        `${attempts} connection attempt in the kafkajs log (retryCount 0)`,
    );
  });

  it('wrong password in-process: startTributary rejects at once and leaves nothing retrying', async () => {
    const config = loadConfig(scramEnv('still-wrong'));
    const before = failedAuthentications();
    const started = Date.now();
    const attempt = startTributary({
      pipelines: [
        definePipeline({
          name: 'never',
          source: { topics: ['scram-never-in'], groupId: 'never' },
          deadLetter: { topic: 'scram-never-dlq' },
          build: (records) => records,
        }),
      ],
      kafka: config.kafka,
      logger: testLogger,
      port: 0,
      host: '127.0.0.1',
    });
    await expect(attempt).rejects.toMatchObject({ name: 'KafkaJSSASLAuthenticationError', retriable: false });
    const rejectedAfterMs = Date.now() - started;
    expect(rejectedAfterMs).toBeLessThan(5_000);
    await new Promise((done) => setTimeout(done, 3_000));
    expect(failedAuthentications() - before).toBe(1);
  });
});
