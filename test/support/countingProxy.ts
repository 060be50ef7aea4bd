/**
 * A TCP pass-through in front of one broker port that counts the connections made through it: how many times a
 * client tried to connect (a TLS handshake, a SASL exchange) is then a number, not a guess from log lines. Bytes go
 * through untouched, so TLS is negotiated with the broker itself. Closed when the test finishes.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';

export interface CountingProxy {
  /** host:port to give the client instead of the broker's. */
  readonly address: string;
  /** Connections accepted so far. */
  connections(): number;
}

export async function countingProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<CountingProxy> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    count++;
    const upstream = createConnection({ host: targetHost, port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((done) => server.close(() => done()));
  });
  return { address: `127.0.0.1:${port}`, connections: () => count };
}
