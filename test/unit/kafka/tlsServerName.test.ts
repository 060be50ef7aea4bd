/**
 * SNI: managed Kafka services that route connections by TLS server name (Confluent Cloud, for one) need the client
 * to send the broker's host name in the ClientHello. kafkajs does for host names; @platformatic/kafka only when told
 * (`tlsServerName`). A TLS server on localhost records the name each adapter sends. IP addresses are never sent
 * (RFC 6066 forbids it, and Node warns on stderr).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type BrokerTlsMaterial, createBrokerTlsMaterial } from '../../../scripts/kafka/tlsMaterial.js';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.js';
import { toKafkajsConfig } from '../../../src/kafka/kafkajsClient.js';
import { baseOptions } from '../../../src/kafka/platformatic/connection.js';
import { tlsPreflight } from '../../../src/kafka/tlsPreflight.js';

let dir: string;
let material: BrokerTlsMaterial;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-sni-'));
  material = createBrokerTlsMaterial(dir);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A TLS server with the broker certificate (localhost, 127.0.0.1) that records the server name of each ClientHello
 * that has one (SNICallback runs only then), and hangs up after the handshake.
 */
async function recordingServer(): Promise<{ port: number; names: string[] }> {
  const names: string[] = [];
  const server = createServer(
    {
      key: readFileSync(material.broker.keyFile),
      cert: readFileSync(material.broker.keystoreFile),
      SNICallback: (name, done) => {
        names.push(name);
        done(null);
      },
    },
    (socket) => socket.destroy(),
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  onTestFinished(() => new Promise<void>((done) => server.close(() => done())));
  return { port: (server.address() as { port: number }).port, names };
}

describe('TLS server name', () => {
  it('kafkajs (with the options toKafkajsConfig gives it) and the adapter check before it send the host name', async () => {
    const { port, names } = await recordingServer();
    const ca = readFileSync(material.ca.certFile, 'utf8');
    const brokers = [`localhost:${port}`];
    await tlsPreflight({ brokers, ssl: { ca: [ca] }, trust: {}, timeoutMs: 10_000 });
    // kafkajs itself, without its retries (the adapter's client would retry the hang-ups for seconds)
    const kafka = new Kafka({ ...toKafkajsConfig({ brokers, ssl: { ca } }), retry: { retries: 0 } });
    const admin = kafka.admin();
    await admin.connect().catch(() => {});
    await admin.disconnect();
    expect(names).toEqual(['localhost', 'localhost']);
  });

  it('the platformatic adapter sends the host name', async () => {
    const { port, names } = await recordingServer();
    const ca = readFileSync(material.ca.certFile, 'utf8');
    const admin = (
      await createKafkaClient({ brokers: [`localhost:${port}`], library: 'platformatic', ssl: { ca } })
    ).admin();
    const connecting = admin.connect().catch(() => {});
    await expect.poll(() => names.length).toBeGreaterThan(0);
    await admin.disconnect();
    await connecting;
    expect(new Set(names)).toEqual(new Set(['localhost']));
  });
});

describe('baseOptions (platformatic)', () => {
  it('asks for SNI when every bootstrap broker is a host name, not for IP addresses', () => {
    expect(baseOptions({ brokers: ['kafka-1.example.net:9093'], ssl: true }, 'x').tlsServerName).toBe(true);
    expect(baseOptions({ brokers: ['127.0.0.1:9093'], ssl: true }, 'x').tlsServerName).toBeUndefined();
    expect(baseOptions({ brokers: ['kafka-1:9093', '[::1]:9093'], ssl: true }, 'x').tlsServerName).toBeUndefined();
    expect(baseOptions({ brokers: ['kafka-1:9093'] }, 'x').tlsServerName).toBeUndefined();
  });
});
