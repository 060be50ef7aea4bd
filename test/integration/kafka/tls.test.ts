/**
 * SASL/SCRAM over TLS, as users run it on managed Kafka (seed 003), against a real broker of this file's own
 * (test/support/tlsBroker.ts): a SASL_SSL listener with a certificate for 127.0.0.1 signed by a CA made at start, a
 * second one whose certificate names only localhost, and two users, alice (SCRAM-SHA-256 only) and bob
 * (SCRAM-SHA-512 only). Everything is configured through the environment (KAFKA_SSL, KAFKA_SSL_CA_FILE,
 * KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD) and runs on both adapters.
 *
 * The failures run the real CLI (`tributary run`) through a TCP pass-through that counts the connections it makes:
 * a wrong CA, a certificate for another host and a wrong password each end in one stderr line and exit 1 after one
 * connection, not a round of reconnects.
 */
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { LocalBrokerScramUser } from '../../../scripts/kafka/localBroker.js';
import { describeKafkaError } from '../../../src/cli/kafkaErrors.js';
import { startTributary } from '../../../src/cli/startTributary.js';
import { loadConfig } from '../../../src/config/loadConfig.js';
import { definePipeline, parseJson, publish } from '../../../src/index.js';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.js';
import type { AdminPort } from '../../../src/kafka/ports.js';
import { countingProxy } from '../../support/countingProxy.js';
import { eventually, testLogger } from '../../support/engine.js';
import { uniqueName } from '../../support/kafka.js';
import { startTlsTestBroker, type TlsTestBroker } from '../../support/tlsBroker.js';
import { freePort, spawnCli } from '../../unit/cli/spawnCli.js';

const ALICE = { username: 'alice', password: 'alice-over-tls', mechanisms: ['SCRAM-SHA-256'] } as const;
const BOB = { username: 'bob', password: 'bob-over-tls', mechanisms: ['SCRAM-SHA-512'] } as const;
const USERS: readonly LocalBrokerScramUser[] = [ALICE, BOB];
const userFor = { 'scram-sha-256': ALICE, 'scram-sha-512': BOB } as const;
const LIBRARIES = ['kafkajs', 'platformatic'] as const;
type Library = (typeof LIBRARIES)[number];
const relayFolder = join('test', 'fixtures', 'pipelines', 'relay');
const VALID = 20;
/** A `tributary run` from source (tsx) and its exit, with room for a busy machine. */
const CLI_TIMEOUT_MS = 120_000;

let t: TlsTestBroker;

beforeAll(async () => {
  t = await startTlsTestBroker(USERS);
  console.info(
    `[tls] broker ${t.broker.alreadyRunning ? 'reused' : `started in ${t.broker.startupMs} ms`}: SASL_SSL ` +
      `${t.tls.bootstrap}, mismatched certificate ${t.tls.mismatchBootstrap}, CA ${t.tls.caFile}`,
  );
}, 180_000);

afterAll(async () => {
  await t?.stop();
});

/** The environment of a right configuration: TLS with the broker's CA, alice over SCRAM-SHA-256. */
function tlsEnv(library: Library, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    KAFKA_CLIENT: library,
    KAFKA_BROKERS: t.tls.bootstrap,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: t.tls.caFile,
    KAFKA_SASL_MECHANISM: 'scram-sha-256',
    KAFKA_USERNAME: ALICE.username,
    KAFKA_PASSWORD: ALICE.password,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** A kafkajs client on the PLAINTEXT listener, for setting up topics and checking results independently of TLS. */
function plaintext(): Kafka {
  return new Kafka({ clientId: 'tls-test-plaintext', brokers: [t.broker.bootstrap], logLevel: logLevel.NOTHING });
}

interface RelayTopics {
  input: string;
  output: string;
  dlq: string;
  group: string;
}

function relayTopics(prefix: string): RelayTopics {
  return {
    input: uniqueName(`${prefix}-in`),
    output: uniqueName(`${prefix}-out`),
    dlq: uniqueName(`${prefix}-dlq`),
    group: uniqueName(`${prefix}-group`),
  };
}

/** VALID JSON records and one broken one, as the relay pipeline's input. */
function relayInput(topic: string) {
  return [
    ...Array.from({ length: VALID }, (_, i) => ({ topic, key: `k${i}`, value: JSON.stringify({ i }) })),
    { topic, key: 'broken', value: '{broken' },
  ];
}

/** Output holds every valid record, the dead-letter topic the broken one, and the group committed all of the input. */
async function relayed(admin: Pick<AdminPort, 'endOffsets' | 'committedOffsets'>, topics: RelayTopics) {
  const [out, dead, committed] = await Promise.all([
    admin.endOffsets(topics.output),
    admin.endOffsets(topics.dlq),
    admin.committedOffsets(topics.group, topics.input),
  ]);
  return out[0]?.high === BigInt(VALID) && dead[0]?.high === 1n && committed.get(0) === BigInt(VALID + 1);
}

/** `tributary run` that must fail: through a counting pass-through to `target`; its exit, output and connections. */
async function failingRun(library: Library, target: string, env: Record<string, string>) {
  const proxy = await countingProxy(Number(target.split(':')[1]));
  const started = Date.now();
  const child = spawnCli(['run', relayFolder], {
    ...env,
    KAFKA_CLIENT: library,
    KAFKA_BROKERS: proxy.address,
    HTTP_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
    RELAY_IN: 'tls-never-in',
    RELAY_OUT: 'tls-never-out',
    RELAY_DLQ: 'tls-never-dlq',
    RELAY_GROUP: 'tls-never',
  });
  const code = await child.exited(90_000);
  return {
    code,
    stderrLines: child.stderr().trimEnd().split('\n'),
    stdout: child.stdout(),
    connections: proxy.connections(),
    proxy: proxy.address,
    ms: Date.now() - started,
  };
}

describe.each(LIBRARIES)('SASL_SSL on %s', (library) => {
  it.each(['scram-sha-256', 'scram-sha-512'] as const)(
    '%s with the broker CA: a pipeline relays records in, out and to the DLQ, and commits them',
    async (mechanism) => {
      const user = userFor[mechanism];
      const config = loadConfig(
        tlsEnv(library, {
          KAFKA_SASL_MECHANISM: mechanism,
          KAFKA_USERNAME: user.username,
          KAFKA_PASSWORD: user.password,
        }),
      );
      expect(config.kafka.ssl).toMatchObject({ caFile: t.tls.caFile });
      const client = await createKafkaClient({ ...config.kafka, logger: testLogger });
      const topics = relayTopics(`tls-${library}-${mechanism}`);
      const admin = client.admin();
      await admin.connect();
      onTestFinished(() => admin.disconnect());
      const { input, output, dlq, group } = topics;
      await admin.createTopics([input, output, dlq].map((topic) => ({ topic, partitions: 1, replicationFactor: 1 })));
      const producer = client.producer();
      await producer.connect();
      await producer.send(relayInput(input));
      await producer.disconnect();

      const app = await startTributary({
        pipelines: [
          definePipeline({
            name: 'tls-relay',
            source: { topics: [input], groupId: group },
            deadLetter: { topic: dlq },
            commitIntervalMs: 200,
            build: (records) => records.pipe(parseJson(), publish(output)),
          }),
        ],
        kafka: config.kafka,
        logger: testLogger,
        port: 0,
        host: '127.0.0.1',
      });
      onTestFinished(async () => {
        await app.stop();
        await app.close();
      });
      expect((await fetch(`http://127.0.0.1:${app.port}/readyz`)).status).toBe(200);
      await eventually(() => relayed(admin, topics), `${VALID} relayed, 1 dead-lettered, all committed over TLS`);
    },
  );

  it('sends the configured mechanism: alice (SCRAM-SHA-256 only) is refused over SCRAM-SHA-512', async () => {
    const config = loadConfig(tlsEnv(library, { KAFKA_SASL_MECHANISM: 'scram-sha-512' }));
    const admin = (await createKafkaClient({ ...config.kafka, logger: testLogger })).admin();
    onTestFinished(() => admin.disconnect().catch(() => {}));
    const error = await admin.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(describeKafkaError(error, config.kafka)).toMatchObject({
      kind: 'authentication',
      message: expect.stringMatching(/^authentication failed for user alice \(SCRAM-SHA-512\)/),
    });
  });

  it(
    'a CA that did not sign the broker certificate: one line, exit 1, one connection',
    async () => {
      const run = await failingRun(library, t.tls.bootstrap, tlsEnv(library, { KAFKA_SSL_CA_FILE: t.wrongCaFile }));
      console.info(`[tls] ${library} wrong CA: exit ${run.code} after ${run.ms} ms, ${run.connections} connection(s)`);
      expect(run.code).toBe(1);
      expect(run.stderrLines).toEqual([
        `tributary: start-up failed: TLS handshake with ${run.proxy} failed: self-signed certificate in certificate ` +
          "chain (SELF_SIGNED_CERT_IN_CHAIN): the broker's certificate is not signed by a CA this client trusts; " +
          `check that KAFKA_SSL_CA_FILE (${t.wrongCaFile}) holds the CA that signed the broker's certificate`,
      ]);
      expect(run.connections).toBe(1);
    },
    CLI_TIMEOUT_MS,
  );

  it(
    'a certificate that does not name the host connected to: one line, exit 1, one connection',
    async () => {
      const run = await failingRun(library, t.tls.mismatchBootstrap, tlsEnv(library));
      console.info(
        `[tls] ${library} host mismatch: exit ${run.code} after ${run.ms} ms, ${run.connections} connection(s)`,
      );
      expect(run.code).toBe(1);
      expect(run.stderrLines).toEqual([
        `tributary: start-up failed: TLS handshake with ${run.proxy} failed: the broker's certificate is not valid ` +
          'for 127.0.0.1 (it names DNS:localhost; ERR_TLS_CERT_ALTNAME_INVALID): list the brokers in KAFKA_BROKERS by ' +
          'a name their certificate holds',
      ]);
      expect(run.connections).toBe(1);
    },
    CLI_TIMEOUT_MS,
  );

  it(
    'a wrong password: one line, exit 1, one authentication attempt (one failed authentication on the broker)',
    async () => {
      const before = t.failedAuthentications();
      const run = await failingRun(library, t.tls.bootstrap, tlsEnv(library, { KAFKA_PASSWORD: 'not-the-password' }));
      console.info(
        `[tls] ${library} wrong password: exit ${run.code} after ${run.ms} ms, ${run.connections} connection(s)`,
      );
      expect(run.code).toBe(1);
      expect(run.stderrLines).toHaveLength(1);
      expect(run.stderrLines[0]).toMatch(
        new RegExp(
          `^tributary: start-up failed: authentication failed for user alice \\(SCRAM-SHA-256\\) at ${run.proxy}: ` +
            'check KAFKA_USERNAME, KAFKA_PASSWORD and KAFKA_SASL_MECHANISM \\(broker said: .*Authentication failed ' +
            'during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256\\)$',
        ),
      );
      expect(`${run.stdout}${run.stderrLines.join('\n')}`).not.toContain('not-the-password');
      // kafkajs: the adapter's TLS check (tlsPreflight.ts), then kafkajs' own connection, which authenticates once
      expect(run.connections).toBe(library === 'kafkajs' ? 2 : 1);
      await eventually(() => t.failedAuthentications() > before, 'the broker logged the failed authentication', 10_000);
      expect(t.failedAuthentications() - before).toBe(1);
    },
    CLI_TIMEOUT_MS,
  );

  it(
    'KAFKA_SSL=true without a CA file trusts the system store: refused, then accepted with NODE_EXTRA_CA_CERTS',
    async () => {
      const systemStore = tlsEnv(library, { KAFKA_SSL_CA_FILE: undefined });
      expect(systemStore.KAFKA_SSL_CA_FILE).toBeUndefined();
      const refused = await failingRun(library, t.tls.bootstrap, systemStore);
      expect(refused.code).toBe(1);
      expect(refused.stderrLines).toEqual([
        `tributary: start-up failed: TLS handshake with ${refused.proxy} failed: self-signed certificate in ` +
          "certificate chain (SELF_SIGNED_CERT_IN_CHAIN): the broker's certificate is not signed by a CA this client " +
          "trusts; KAFKA_SSL_CA_FILE is not set, so only the system's CAs (and NODE_EXTRA_CA_CERTS) are trusted: set " +
          "it to the CA that signed the broker's certificate",
      ]);
      expect(refused.connections).toBe(1);

      // Node's store takes NODE_EXTRA_CA_CERTS at start-up: with the broker's CA there, the same configuration runs
      const topics = relayTopics(`tls-system-${library}`);
      const kafka = plaintext();
      const admin = kafka.admin();
      await admin.connect();
      onTestFinished(() => admin.disconnect());
      await admin.createTopics({
        topics: [topics.input, topics.output, topics.dlq].map((topic) => ({ topic, numPartitions: 1 })),
        waitForLeaders: true,
      });
      const producer = kafka.producer();
      await producer.connect();
      for (const { topic, key, value } of relayInput(topics.input)) {
        await producer.send({ topic, messages: [{ key, value }] });
      }
      await producer.disconnect();
      const httpPort = await freePort();
      const child = spawnCli(['run', relayFolder], {
        ...systemStore,
        NODE_EXTRA_CA_CERTS: t.tls.caFile,
        HTTP_PORT: String(httpPort),
        LOG_LEVEL: 'warn',
        RELAY_IN: topics.input,
        RELAY_OUT: topics.output,
        RELAY_DLQ: topics.dlq,
        RELAY_GROUP: topics.group,
      });
      const ready = async () => {
        if (child.process.exitCode !== null) throw new Error(`tributary run exited:\n${child.stderr()}`);
        return (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.status === 200;
      };
      await eventually(ready, '/readyz 200 with the CA in NODE_EXTRA_CA_CERTS', 60_000);
      const check = {
        endOffsets: async (topic: string) =>
          (await admin.fetchTopicOffsets(topic)).map((o) => ({
            partition: o.partition,
            low: 0n,
            high: BigInt(o.high),
          })),
        committedOffsets: async (group: string, topic: string) => {
          const [result] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
          return new Map((result?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
        },
      };
      await eventually(() => relayed(check, topics), `${VALID} relayed by tributary run trusting the system store`);
      child.process.kill('SIGTERM');
      expect(await child.exited(60_000)).toBe(0);
      expect(child.stderr()).toBe('');
    },
    2 * CLI_TIMEOUT_MS,
  );
});
