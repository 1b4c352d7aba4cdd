/**
 * FramedConnection over a real loopback socket: waiting for a full socket buffer to drain, many times
 * over one connection, leaves no listener behind, and a close while waiting rejects the wait.
 */
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { ConnectionClosedError } from '../../src/shared/errors';
import { FramedConnection } from '../../src/shared/framed-connection';
import { createLogger } from '../../src/shared/logger';

const logger = createLogger('test');
const BLOCK = Buffer.alloc(1024 * 1024, 1);

let server: Server;
let client: Socket;
let framed: FramedConnection;

beforeEach(async () => {
  server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.pause();
  const [socket] = (await accepted) as [Socket];
  framed = new FramedConnection(socket, logger);
});

afterEach(async () => {
  framed.close();
  client.destroy();
  server.close();
  await once(server, 'close');
});

/** Writes until the socket buffer is full, then lets the reader take everything so far. */
async function fillThenDrain(): Promise<void> {
  while (framed.write(BLOCK));
  const waiting = framed.drained();
  client.resume();
  await waiting;
  client.pause();
}

test('a sender that waits for drain again and again leaves no listeners behind', async () => {
  const closeListeners = framed.listenerCount('close');
  const drainListeners = framed.socket.listenerCount('drain');
  for (let round = 0; round < 20; round++) await fillThenDrain();
  expect(framed.listenerCount('close')).toBe(closeListeners);
  expect(framed.listenerCount('error')).toBe(0);
  expect(framed.socket.listenerCount('drain')).toBe(drainListeners);
});

test('a close while waiting for drain rejects the wait with ConnectionClosedError', async () => {
  while (framed.write(BLOCK));
  const waiting = framed.drained();
  framed.close();
  await expect(waiting).rejects.toBeInstanceOf(ConnectionClosedError);
});
