/** A Unix socket left behind by a process that died, for tests of taking a socket path over. */
import { link, rename } from 'node:fs/promises';
import { createServer } from 'node:net';

/** Leaves at `path` the socket of a peer that died: bound, then closed without its name going away. */
export async function staleSocket(path: string): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  // Closing a server removes its socket's name; a second name for the same socket survives it.
  await link(path, `${path}.keep`);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rename(`${path}.keep`, path);
}
