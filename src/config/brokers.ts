/** Parsing of `KAFKA_BROKERS`: a comma-separated list of `host:port`, each entry checked on its own. */
import { isIPv4, isIPv6 } from 'node:net';

/** One DNS label; underscores are accepted because container and compose service names use them. */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

export type BrokerParse = { ok: true; broker: string } | { ok: false; reason: string };

function validHost(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  if (/^[0-9.]+$/.test(host)) return isIPv4(host);
  return host.split('.').every((label) => LABEL.test(label));
}

/** Checks one `host:port` entry (`[v6-address]:port` for IPv6). */
export function parseBroker(entry: string): BrokerParse {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(entry);
  if (!match) return { ok: false, reason: 'not host:port' };
  const [, v6, host, portText] = match;
  if (v6 !== undefined ? !isIPv6(v6) : !validHost(host ?? '')) return { ok: false, reason: 'invalid host' };
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return { ok: false, reason: 'port must be 1-65535' };
  return { ok: true, broker: entry };
}

/** Splits the list; blank entries (a trailing comma) are ignored. */
export function splitBrokers(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}
