/** A TCP port on 127.0.0.1 that nobody listens on right now (the system's choice), for tests and the bench. */
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const address = server.address();
  await new Promise<void>((closed) => server.close(() => closed()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port from the system');
  return address.port;
}
