/**
 * One TLS handshake with the bootstrap brokers before the kafkajs adapter's first connect. kafkajs wraps every socket
 * error, a certificate it cannot verify included, in a retriable KafkaJSConnectionError, so a wrong CA or a host
 * name the certificate does not hold would cost six handshakes with back-off (its default retry) on each client
 * before start-up fails. The handshake here uses the TLS options kafkajs will use (its socket factory's), and a
 * permanent failure (see tlsErrors.ts) rejects at once with a KafkaTlsError. Anything else (refused, unreachable,
 * timed out) is left to kafkajs and its retries.
 */
import { isIP } from 'node:net';
import { type ConnectionOptions, connect } from 'node:tls';
import { permanentTlsError, type TlsTrust } from './tlsErrors.js';

export interface TlsPreflightOptions {
  readonly brokers: readonly string[];
  /** The `ssl` kafkajs gets: true (system CAs) or tls.connect options. */
  readonly ssl: true | ConnectionOptions;
  readonly trust: TlsTrust;
  /** How long one handshake may take before it is left to kafkajs. */
  readonly timeoutMs: number;
}

type Outcome = { ok: true } | { ok: false; error: unknown };

function splitHostPort(broker: string): { host: string; port: number } {
  const colon = broker.lastIndexOf(':');
  const host = broker.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(broker.slice(colon + 1)) };
}

function handshake(broker: string, options: TlsPreflightOptions): Promise<Outcome> {
  const { host, port } = splitHostPort(broker);
  return new Promise((done) => {
    // as kafkajs' default socket factory: SNI for host names only, then its `ssl` options
    const socket = connect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      ...(options.ssl === true ? {} : options.ssl),
    });
    const finish = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.destroy();
      done(outcome);
    };
    const timer = setTimeout(
      () => finish({ ok: false, error: new Error('TLS handshake timed out') }),
      options.timeoutMs,
    );
    socket.once('secureConnect', () => finish({ ok: true }));
    socket.once('error', (error) => finish({ ok: false, error }));
  });
}

/**
 * Handshakes with the brokers in turn until one succeeds (resolves true); rejects with a KafkaTlsError at the first
 * permanent failure; resolves false when every broker failed otherwise.
 */
export async function tlsPreflight(options: TlsPreflightOptions): Promise<boolean> {
  for (const broker of options.brokers) {
    const outcome = await handshake(broker, options);
    if (outcome.ok) return true;
    const permanent = permanentTlsError(outcome.error, broker, options.trust);
    if (permanent) throw permanent;
  }
  return false;
}

/**
 * `tlsPreflight` for one client: concurrent connects share one check; once a handshake succeeded it is not repeated,
 * a permanent failure is kept (the configuration will not change), and after any other failure the next connect
 * checks again.
 */
export function onceTlsPreflight(options: TlsPreflightOptions): () => Promise<void> {
  let pending: Promise<boolean> | undefined;
  let passed = false;
  let failure: Error | undefined;
  return async () => {
    if (passed) return;
    if (failure) throw failure;
    pending ??= tlsPreflight(options);
    try {
      passed = await pending;
    } catch (error) {
      failure = error as Error;
      throw error;
    } finally {
      pending = undefined;
    }
  };
}
