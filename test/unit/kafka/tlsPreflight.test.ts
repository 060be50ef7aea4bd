/**
 * The kafkajs adapter's TLS check against real TLS servers on 127.0.0.1 (node:tls with certificates openssl makes,
 * the local broker's tlsMaterial.ts): which handshake failures are permanent, what their one line says, and that a
 * client checks once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  type BrokerTlsMaterial,
  createBrokerTlsMaterial,
  createCertificateAuthority,
} from '../../../scripts/kafka/tlsMaterial.js';
import { describeKafkaError } from '../../../src/cli/kafkaErrors.js';
import { KafkaTlsError } from '../../../src/kafka/tlsErrors.js';
import { onceTlsPreflight, type TlsPreflightOptions, tlsPreflight } from '../../../src/kafka/tlsPreflight.js';

let dir: string;
let material: BrokerTlsMaterial;
let wrongCa: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-tls-'));
  material = createBrokerTlsMaterial(dir);
  wrongCa = readFileSync(createCertificateAuthority(dir, 'wrong', 'Wrong CA').certFile, 'utf8');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function listen(server: Server): Promise<{ address: string; accepted: () => number }> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    accepted++;
    sockets.add(socket);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  onTestFinished(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((done) => server.close(() => done()));
  });
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, accepted: () => accepted };
}

/** An address nothing listens on: a port that was free a moment ago. */
async function closedAddress(): Promise<string> {
  const server = createTcpServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return `127.0.0.1:${port}`;
}

/** A TLS server presenting `which` certificate (with the CA in its chain, as the broker's PEM keystore does). */
function tlsServer(which: 'broker' | 'mismatch') {
  const { keyFile, keystoreFile } = material[which];
  const server = createTlsServer({ key: readFileSync(keyFile), cert: readFileSync(keystoreFile) }, (socket) =>
    socket.end(),
  );
  server.on('tlsClientError', () => {});
  return listen(server);
}

function options(brokers: string[], ssl: TlsPreflightOptions['ssl'], caFile?: string): TlsPreflightOptions {
  return { brokers, ssl, trust: { caFile }, timeoutMs: 10_000 };
}

async function failure(promise: Promise<unknown>): Promise<KafkaTlsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KafkaTlsError);
  return error as KafkaTlsError;
}

describe('tlsPreflight', () => {
  it('passes when the certificate is signed by the given CA and names 127.0.0.1', async () => {
    const { address } = await tlsServer('broker');
    const ca = readFileSync(material.ca.certFile, 'utf8');
    await expect(tlsPreflight(options([address], { ca: [ca] }, material.ca.certFile))).resolves.toBe(true);
  });

  it('a CA that did not sign the certificate: untrusted, naming the CA file', async () => {
    const { address } = await tlsServer('broker');
    const error = await failure(tlsPreflight(options([address], { ca: [wrongCa] }, '/etc/wrong.pem')));
    expect(error).toMatchObject({ problem: 'untrusted', code: 'SELF_SIGNED_CERT_IN_CHAIN', retriable: false });
    expect(error.message).toBe(
      `TLS handshake with ${address} failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN): ` +
        "the broker's certificate is not signed by a CA this client trusts; check that KAFKA_SSL_CA_FILE " +
        "(/etc/wrong.pem) holds the CA that signed the broker's certificate",
    );
    expect(describeKafkaError(error, { brokers: [address] })).toEqual({ kind: 'tls', message: error.message });
  });

  it("no CA file: Node's store does not hold a CA made here, and the line says which store was used", async () => {
    const { address } = await tlsServer('broker');
    const error = await failure(tlsPreflight(options([address], true)));
    expect(error.problem).toBe('untrusted');
    expect(error.message).toContain("KAFKA_SSL_CA_FILE is not set, so only the system's CAs (and NODE_EXTRA_CA_CERTS)");
  });

  it('a certificate for another name: host mismatch, with the names it holds', async () => {
    const { address } = await tlsServer('mismatch');
    const ca = readFileSync(material.ca.certFile, 'utf8');
    const error = await failure(tlsPreflight(options([address], { ca: [ca] })));
    expect(error).toMatchObject({ problem: 'host-mismatch', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(error.message).toBe(
      `TLS handshake with ${address} failed: the broker's certificate is not valid for 127.0.0.1 (it names ` +
        'DNS:localhost; ERR_TLS_CERT_ALTNAME_INVALID): list the brokers in KAFKA_BROKERS by a name their certificate holds',
    );
  });

  it('a port that answers without TLS: not-tls', async () => {
    const server = createTcpServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const { address } = await listen(server);
    const error = await failure(tlsPreflight(options([address], true)));
    expect(error.problem).toBe('not-tls');
    expect(error.message).toContain('the port does not speak TLS');
  });

  it('leaves a refused connection to the client (resolves false), and tries the next broker', async () => {
    const closed = await closedAddress();
    const { address: good } = await tlsServer('broker');
    const ca = readFileSync(material.ca.certFile, 'utf8');
    await expect(tlsPreflight(options([closed], { ca: [ca] }))).resolves.toBe(false);
    await expect(tlsPreflight(options([closed, good], { ca: [ca] }))).resolves.toBe(true);
  });
});

describe('onceTlsPreflight', () => {
  it('checks once for every connect of a client after a pass', async () => {
    const server = await tlsServer('broker');
    const ca = readFileSync(material.ca.certFile, 'utf8');
    const check = onceTlsPreflight(options([server.address], { ca: [ca] }));
    await Promise.all([check(), check(), check()]);
    await check();
    expect(server.accepted()).toBe(1);
  });

  it('keeps a permanent failure without another handshake', async () => {
    const server = await tlsServer('broker');
    const check = onceTlsPreflight(options([server.address], { ca: [wrongCa] }));
    const first = await failure(check());
    const second = await failure(check());
    expect(second).toBe(first);
    expect(server.accepted()).toBe(1);
  });

  it('checks again at the next connect after a failure that is not permanent', async () => {
    const check = onceTlsPreflight(options([await closedAddress()], true));
    await expect(check()).resolves.toBeUndefined();
    await expect(check()).resolves.toBeUndefined();
  });
});
