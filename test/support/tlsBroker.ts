/**
 * A local broker of the TLS tests' own (scripts/kafka/localBroker.ts with `saslSsl`): a SASL_SSL listener whose
 * certificate names 127.0.0.1, a second one whose certificate names only localhost, a PLAINTEXT listener, and SCRAM
 * users created at format time. Also a CA that signed nothing (the "wrong CA"). Ports: four free ones in a row, or
 * TRIBUTARY_TLS_TEST_PORT=P for P (PLAINTEXT), P+1 (controller), P+2 (SASL_SSL), P+3 (mismatched SASL_SSL).
 */
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  type LocalBroker,
  type LocalBrokerOptions,
  type LocalBrokerSaslSslInfo,
  type LocalBrokerScramUser,
  projectRoot,
  startLocalBroker,
  stopLocalBroker,
} from '../../scripts/kafka/localBroker.js';
import { createCertificateAuthority } from '../../scripts/kafka/tlsMaterial.js';

export interface TlsTestBroker {
  readonly broker: LocalBroker;
  readonly tls: LocalBrokerSaslSslInfo & { mismatchBootstrap: string };
  /** A CA that signed neither of the broker's certificates. */
  readonly wrongCaFile: string;
  /** Lines of the broker's log that record a refused SASL authentication so far. */
  failedAuthentications(): number;
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** The first of four consecutive free ports in 49000–59999. */
async function freePortRun(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const first = 49_000 + 4 * Math.floor(Math.random() * 2700);
    let free = true;
    for (let port = first; free && port < first + 4; port++) free = await portFree(port);
    if (free) return first;
  }
  throw new Error('no four consecutive free ports in 49000–59999');
}

export async function startTlsTestBroker(users: readonly LocalBrokerScramUser[]): Promise<TlsTestBroker> {
  const fixed = process.env.TRIBUTARY_TLS_TEST_PORT;
  const port = fixed ? Number(fixed) : await freePortRun();
  const stateDir = join(projectRoot, '.tributary', `kafka-tls-${port}`);
  const options: LocalBrokerOptions = {
    port,
    controllerPort: port + 1,
    saslSsl: { port: port + 2, mismatchPort: port + 3, users },
    stateDir,
    heapMb: 384,
  };
  const broker = await startLocalBroker(options);
  const { saslSsl } = broker;
  if (saslSsl?.mismatchBootstrap === undefined) throw new Error('the broker has no SASL_SSL listeners');
  const wrongCa = createCertificateAuthority(join(stateDir, 'wrong-ca'), 'wrong-ca', 'A CA nobody uses');
  return {
    broker,
    tls: { ...saslSsl, mismatchBootstrap: saslSsl.mismatchBootstrap },
    wrongCaFile: wrongCa.certFile,
    failedAuthentications: () =>
      readFileSync(broker.logFile, 'utf8')
        .split('\n')
        .filter((line) => line.includes('Failed authentication with')).length,
    // the topics go; broker.log, server.properties and the certificates stay for a look after a failure
    stop: async () => {
      await stopLocalBroker(options);
      rmSync(join(stateDir, 'data'), { recursive: true, force: true });
    },
  };
}
