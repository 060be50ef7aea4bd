/**
 * `tributary` as a real child process (node --import tsx src/cli/main.ts): exit codes and messages for bad
 * configuration, and `run` on a pipelines folder against the real broker until SIGTERM.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../support/engine.js';
import {
  bootstrapServers,
  collect,
  consume,
  createTopic,
  expectCommittedToEnd,
  produce,
  uniqueName,
} from '../../support/kafka.js';
import { testKafkaLibrary } from '../../support/testClient.js';
import { freePort, spawnCli } from '../../unit/cli/spawnCli.js';
import { sampleValue } from '../../unit/metrics/promText.js';

const relayFolder = join('test', 'fixtures', 'pipelines', 'relay');

describe('tributary CLI as a process', () => {
  it('run with bad configuration prints one line per problem and exits 2', async () => {
    const child = spawnCli(['run', relayFolder], {
      KAFKA_BROKERS: 'localhost',
      HTTP_PORT: '0',
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_PASSWORD: 's3cret-value',
    });
    expect(await child.exited()).toBe(2);
    expect(child.stderr()).toBe(
      [
        'tributary: invalid configuration (3 problems)',
        '  KAFKA_BROKERS: expected comma-separated host:port, got "localhost"',
        '  KAFKA_USERNAME: required when KAFKA_SASL_MECHANISM is set',
        '  HTTP_PORT: expected an integer from 1 to 65535, got "0"',
        '',
      ].join('\n'),
    );
    expect(child.stdout()).toBe('');
    expect(child.stderr()).not.toContain('s3cret-value');
  });

  it('run with a source topic that does not exist exits 1 and says which topics to create', async () => {
    const missing = uniqueName('cli-run-missing');
    const child = spawnCli(['run', relayFolder], {
      KAFKA_BROKERS: bootstrapServers().join(','),
      HTTP_PORT: String(await freePort()),
      LOG_LEVEL: 'fatal',
      RELAY_IN: missing,
      RELAY_DLQ: `${missing}-dlq`,
    });
    expect(await child.exited()).toBe(1);
    // the broker's words as each client reports them: kafkajs the protocol error, @platformatic/kafka the topic
    const brokerSaid =
      testKafkaLibrary() === 'kafkajs' ? 'This server does not host this topic-partition' : `Unknown topic ${missing}.`;
    expect(child.stderr()).toBe(
      `tributary: start-up failed: a topic does not exist (one of ${missing}, ${missing}-dlq): create the ` +
        `pipelines' topics with \`tributary topics create\` (broker said: ${brokerSaid})\n`,
    );
  });

  it('an unknown command prints the usage and exits 2; --help exits 0', async () => {
    const unknown = spawnCli(['deploy'], {});
    expect(await unknown.exited()).toBe(2);
    expect(unknown.stderr()).toContain('tributary: unknown command "deploy"');
    const help = spawnCli(['--help'], {});
    expect(await help.exited()).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: tributary <command> \[options\]\n/);
  });

  it('run on a pipelines folder becomes ready, processes records, serves metrics and exits 0 on SIGTERM', async () => {
    const n = 1000;
    const poison = 10;
    const input = await createTopic('cli-run-in', 3);
    const output = await createTopic('cli-run-out', 3);
    const dlq = await createTopic('cli-run-dlq', 1);
    const group = uniqueName('cli-run-group');
    await produce(
      input,
      Array.from({ length: n }, (_, i) => ({
        key: `k${i % 20}`,
        value: i % (n / poison) === 3 ? 'not json' : JSON.stringify({ i }),
      })),
    );
    const out = await collect(output);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const child = spawnCli(['run', relayFolder], {
      KAFKA_BROKERS: bootstrapServers().join(','),
      KAFKA_CLIENT_ID: 'tributary-cli-test',
      HTTP_PORT: String(port),
      LOG_LEVEL: 'info',
      RELAY_IN: input,
      RELAY_OUT: output,
      RELAY_DLQ: dlq,
      RELAY_GROUP: group,
    });
    const started = Date.now();
    await eventually(async () => {
      if (child.process.exitCode !== null) throw new Error(`tributary exited early:\n${child.stderr()}`);
      const response = await fetch(`${base}/readyz`).catch(() => undefined);
      return response?.status === 200;
    }, '/readyz 200 from tributary run');
    const readyMs = Date.now() - started;

    await out.waitFor(n - poison, 60_000);
    const dead = await consume(dlq, poison);
    expect(dead.map((r) => r.value)).toEqual(Array(poison).fill('not json'));
    expect(new Set(out.records.map((r) => r.value)).size).toBe(n - poison);

    let metrics = '';
    await eventually(
      async () => {
        metrics = await (await fetch(`${base}/metrics`)).text();
        return (
          metrics.includes('tributary_consumer_lag_records{') &&
          !/tributary_consumer_lag_records\{[^}]*\} [1-9]/.test(metrics)
        );
      },
      'lag 0 in /metrics',
      60_000,
    );
    const processed = (outcome: string) =>
      sampleValue(metrics, 'tributary_records_processed_total', { pipeline: 'json-relay', topic: input, outcome });
    expect(processed('published')).toBe(n - poison);
    expect(processed('dead_lettered')).toBe(poison);
    expect(sampleValue(metrics, 'tributary_ready')).toBe(1);

    child.process.kill('SIGTERM');
    expect(await child.exited()).toBe(0);
    const logs = child
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; level: string; metricsUrl?: string });
    const messages = logs.map((l) => l.msg);
    expect(messages[0]).toBe('tributary starting 1 pipeline');
    expect(logs.find((l) => l.metricsUrl !== undefined)?.metricsUrl).toBe(`http://localhost:${port}/metrics`);
    // the order of the shutdown lines (pino writes asynchronously; lines of one millisecond may swap)
    expect(messages).toContain('stopping gracefully');
    expect(messages).toContain('engine stopped');
    expect(messages).toContain('tributary stopped');
    expect(messages.indexOf('stopping gracefully')).toBeLessThan(messages.indexOf('tributary stopped'));
    expect(child.stderr()).toBe('');

    // it committed everything before exiting
    await expectCommittedToEnd(group, [input]);
    console.info(
      `[cli run] ready after ${readyMs} ms; ${n - poison} published, ${poison} dead-lettered; SIGTERM → exit 0`,
    );
  }, 180_000);
});
