/**
 * TLS failures that no retry can mend: the broker's certificate is not signed by a CA this client trusts, does not
 * name the host the client connected to, is out of its validity dates, or the port does not speak TLS at all. Both
 * adapters turn them into one `KafkaTlsError` (not retriable) whose message says what failed and what to check, so
 * a bad KAFKA_SSL_CA_FILE or KAFKA_BROKERS stops start-up after one handshake instead of a round of reconnects.
 */
import { findInErrorTree } from './errorTree.js';

/** OpenSSL's verification results as Node reports them in `error.code`, grouped by what the user should check. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
]);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED']);
const HOST_MISMATCH = 'ERR_TLS_CERT_ALTNAME_INVALID';
/** A TLS ClientHello answered by something that is not TLS (OpenSSL 3; 1.1 says the same in the message). */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

export type TlsProblem = 'untrusted' | 'out-of-date' | 'host-mismatch' | 'not-tls';

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Which permanent TLS failure `error` itself is, if any (its causes are not looked at). */
export function tlsProblemOf(error: unknown): TlsProblem | undefined {
  const code = codeOf(error);
  if (UNTRUSTED.has(code)) return 'untrusted';
  if (OUT_OF_DATE.has(code)) return 'out-of-date';
  if (code === HOST_MISMATCH) return 'host-mismatch';
  if (NOT_TLS.has(code) || (error instanceof Error && /wrong version number/i.test(error.message))) return 'not-tls';
  return undefined;
}

/** Where the CA came from, for the advice: the file of KAFKA_SSL_CA_FILE, or none (the system's CAs). */
export interface TlsTrust {
  readonly caFile?: string | undefined;
}

function trustAdvice(trust: TlsTrust): string {
  return trust.caFile !== undefined
    ? `check that KAFKA_SSL_CA_FILE (${trust.caFile}) holds the CA that signed the broker's certificate`
    : "KAFKA_SSL_CA_FILE is not set, so only the system's CAs (and NODE_EXTRA_CA_CERTS) are trusted: set it to the CA that signed the broker's certificate";
}

function describe(problem: TlsProblem, cause: Error, trust: TlsTrust): string {
  const code = codeOf(cause);
  switch (problem) {
    case 'untrusted':
      return `${cause.message} (${code}): the broker's certificate is not signed by a CA this client trusts; ${trustAdvice(trust)}`;
    case 'out-of-date':
      return `${cause.message} (${code}): the broker's certificate is outside its validity dates (or the clock is wrong)`;
    case 'host-mismatch': {
      const { host, cert } = cause as Error & { host?: string; cert?: { subjectaltname?: string } };
      const names = cert?.subjectaltname ? `it names ${cert.subjectaltname}` : 'it has no subject alternative names';
      return (
        `the broker's certificate is not valid for ${host ?? 'this host'} (${names}; ${code}): ` +
        'list the brokers in KAFKA_BROKERS by a name their certificate holds'
      );
    }
    case 'not-tls':
      return `${cause.message}: the port does not speak TLS; check that KAFKA_BROKERS names the TLS listener (or set KAFKA_SSL=false for a PLAINTEXT one)`;
  }
}

/** A TLS handshake with a broker failed in a way that retrying cannot mend. */
export class KafkaTlsError extends Error {
  override name = 'KafkaTlsError';
  /** Node's / OpenSSL's code, e.g. `SELF_SIGNED_CERT_IN_CHAIN` or `ERR_TLS_CERT_ALTNAME_INVALID`. */
  readonly code: string;
  readonly problem: TlsProblem;
  /** host:port of the broker whose handshake failed. */
  readonly broker: string;
  readonly retriable = false;
  constructor(broker: string, problem: TlsProblem, cause: Error, trust: TlsTrust) {
    super(`TLS handshake with ${broker} failed: ${describe(problem, cause, trust)}`, { cause });
    this.code = codeOf(cause);
    this.problem = problem;
    this.broker = broker;
  }
}

/** The permanent TLS failure somewhere in `error`'s tree as a KafkaTlsError, or undefined when there is none. */
export function permanentTlsError(error: unknown, broker: string, trust: TlsTrust): KafkaTlsError | undefined {
  if (error instanceof KafkaTlsError) return error;
  const found = findInErrorTree(error, (candidate) => tlsProblemOf(candidate) !== undefined);
  const problem = tlsProblemOf(found);
  return found instanceof Error && problem !== undefined ? new KafkaTlsError(broker, problem, found, trust) : undefined;
}
