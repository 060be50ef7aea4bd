/**
 * Certificates for the local broker's SASL_SSL listeners, made with `openssl` (OpenSSL 1.1.1 or 3): a throwaway CA
 * and broker certificates it signs, each with the subject alternative names it is asked for. Keys are EC P-256 in
 * PKCS#8 PEM without a passphrase; a broker keystore is one PEM file holding the key, its certificate and the CA
 * (Kafka's `ssl.keystore.type=PEM`). Nothing here is fit for production: the CA key sits next to its certificate.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class TlsMaterialError extends Error {
  override name = 'TlsMaterialError';
}

export interface CertificateAuthority {
  /** The CA certificate (PEM): what a client trusts, e.g. `KAFKA_SSL_CA_FILE`. */
  certFile: string;
  keyFile: string;
}

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  /** Key, certificate and CA certificate in one PEM file: a Kafka `ssl.keystore.type=PEM` keystore. */
  keystoreFile: string;
}

/** How many days the certificates are valid; the local broker makes new ones at every fresh start. */
const VALID_DAYS = 365;

function openssl(args: readonly string[], what: string): void {
  const result = spawnSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new TlsMaterialError(
      'The local broker makes its TLS certificates with `openssl`, which was not found on PATH. Install OpenSSL, ' +
        'or start the broker without --sasl-ssl-port.',
    );
  }
  if (result.status !== 0) {
    throw new TlsMaterialError(`openssl could not ${what} (exit ${result.status}):\n${result.stderr}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA in `dir` (`<name>.pem`, `<name>.key`); `commonName` gets a random suffix so no two CAs match. */
export function createCertificateAuthority(dir: string, name: string, commonName: string): CertificateAuthority {
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      ...EC_KEY,
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      String(VALID_DAYS),
      '-subj',
      `/CN=${commonName} ${randomBytes(4).toString('hex')}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    `create the CA ${name}`,
  );
  return { certFile, keyFile };
}

/**
 * A server certificate signed by `ca`, valid for exactly `altNames` (`IP:127.0.0.1`, `DNS:localhost`, ...), in
 * `dir` as `<name>.crt`, `<name>.key` and the keystore `<name>-keystore.pem`.
 */
export function issueServerCertificate(
  ca: CertificateAuthority,
  dir: string,
  name: string,
  altNames: readonly string[],
): IssuedCertificate {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  const keystoreFile = join(dir, `${name}-keystore.pem`);
  openssl(
    ['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${name}`],
    `make a key for ${name}`,
  );
  writeFileSync(
    extFile,
    [
      `subjectAltName=${altNames.join(',')}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csrFile,
      '-CA',
      ca.certFile,
      '-CAkey',
      ca.keyFile,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      String(VALID_DAYS),
      '-extfile',
      extFile,
      '-out',
      certFile,
    ],
    `sign the certificate for ${name}`,
  );
  rmSync(csrFile, { force: true });
  rmSync(extFile, { force: true });
  writeFileSync(
    keystoreFile,
    `${[keyFile, certFile, ca.certFile].map((file) => readFileSync(file, 'utf8').trimEnd()).join('\n')}\n`,
  );
  return { certFile, keyFile, keystoreFile };
}

/** What the local broker's SASL_SSL listeners serve, made fresh in `dir`. */
export interface BrokerTlsMaterial {
  ca: CertificateAuthority;
  /** SAN IP:127.0.0.1 and DNS:localhost: verifies when the client connects to 127.0.0.1 or localhost. */
  broker: IssuedCertificate;
  /** SAN DNS:localhost only: a client connecting to 127.0.0.1 fails hostname verification. */
  mismatch: IssuedCertificate;
}

const NAMES = { ca: 'ca', broker: 'broker', mismatch: 'broker-localhost-only' } as const;

/** Where createBrokerTlsMaterial(dir) puts the files the broker's configuration names, without making them. */
export function brokerTlsFiles(dir: string): { caFile: string; keystoreFile: string; mismatchKeystoreFile: string } {
  return {
    caFile: join(dir, `${NAMES.ca}.pem`),
    keystoreFile: join(dir, `${NAMES.broker}-keystore.pem`),
    mismatchKeystoreFile: join(dir, `${NAMES.mismatch}-keystore.pem`),
  };
}

export function createBrokerTlsMaterial(dir: string): BrokerTlsMaterial {
  const ca = createCertificateAuthority(dir, NAMES.ca, 'Tributary local broker CA');
  return {
    ca,
    broker: issueServerCertificate(ca, dir, NAMES.broker, ['IP:127.0.0.1', 'DNS:localhost']),
    mismatch: issueServerCertificate(ca, dir, NAMES.mismatch, ['DNS:localhost']),
  };
}
