import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runCommand } from '../../../../src/cli/commands/run.js';
import { recordedIo } from '../io.js';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const relay = join('test', 'fixtures', 'pipelines', 'relay');

describe('tributary run, before it reaches Kafka', () => {
  it('prints one line per configuration problem and exits 2, without echoing the password', async () => {
    const io = recordedIo(
      { KAFKA_BROKERS: 'localhost', HTTP_PORT: '0', KAFKA_SASL_MECHANISM: 'scram', KAFKA_PASSWORD: 'hunter2' },
      { cwd: root },
    );
    expect(await runCommand([relay], io)).toBe(2);
    expect(io.err).toEqual([
      'tributary: invalid configuration (4 problems)',
      '  KAFKA_BROKERS: expected comma-separated host:port, got "localhost"',
      '  KAFKA_SASL_MECHANISM: expected one of plain, scram-sha-256, scram-sha-512, got "scram"',
      '  KAFKA_USERNAME: required when KAFKA_SASL_MECHANISM is set',
      '  HTTP_PORT: expected an integer from 1 to 65535, got "0"',
    ]);
    expect(io.err.join('\n')).not.toContain('hunter2');
    expect(io.out).toEqual([]);
  });

  it('exits 2 when the pipelines do not load', async () => {
    const io = recordedIo({ KAFKA_BROKERS: '127.0.0.1:1' }, { cwd: root });
    expect(await runCommand(['test/fixtures/pipelines/static/schemas.ts'], io)).toBe(2);
    expect(io.err).toEqual([
      `tributary: ${join('test', 'fixtures', 'pipelines', 'static', 'schemas.ts')} exports no pipeline (expected a default or named export made with definePipeline)`,
    ]);
  });

  it('exits 2 naming HTTP_PORT when the port is taken, before connecting to Kafka', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, done));
    onTestFinished(() => new Promise<void>((done) => blocker.close(() => done())));
    const port = (blocker.address() as { port: number }).port;
    const logs: string[] = [];
    const io = recordedIo(
      { KAFKA_BROKERS: '127.0.0.1:1', HTTP_PORT: String(port), LOG_LEVEL: 'error' },
      { cwd: root, logDestination: { write: (line: string) => logs.push(line) } },
    );
    const started = Date.now();
    expect(await runCommand([relay], io)).toBe(2);
    expect(Date.now() - started).toBeLessThan(5_000); // no Kafka connection attempts (127.0.0.1:1 would retry)
    expect(io.err).toEqual([
      'tributary: invalid configuration (1 problem)',
      `  HTTP_PORT: port ${port} is already in use (all interfaces port ${port}); free it or set HTTP_PORT to another port`,
    ]);
    expect(logs.map((line) => JSON.parse(line).level)).toEqual(['error']);
  });
});
