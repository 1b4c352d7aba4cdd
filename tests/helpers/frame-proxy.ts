/**
 * A TCP proxy in front of a real server that sees every frame a client sends: it can swallow the first
 * few frames of one type (a lost or very late request, as the client would see it) and counts the
 * frames of that type it carried.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { MessageType } from '../../src/protocol';

export interface FrameProxy {
  server: Server;
  /** Frames of the watched type the clients sent, swallowed ones included. */
  seen: () => number;
  /** The frames of the watched type that went through, in order (u32 length, opcode, request id, body). */
  carried: Buffer[];
}

/** A proxy to 127.0.0.1:`port` that drops the first `drop` client frames of type `type`. */
export function frameProxy(port: number, type: MessageType, drop = 0): FrameProxy {
  let seen = 0;
  const carried: Buffer[] = [];
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.push(client, upstream);
    let pending = Buffer.alloc(0);
    client.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      // Frames: u32 length of the rest, then the opcode.
      while (pending.length >= 5 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const frame = pending.subarray(0, 4 + pending.readUInt32BE(0));
        pending = pending.subarray(frame.length);
        if (frame[4] === type && seen++ < drop) continue;
        if (frame[4] === type) carried.push(Buffer.from(frame));
        upstream.write(frame);
      }
    });
    upstream.pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  server.on('close', () => sockets.forEach((socket) => socket.destroy()));
  return { server, seen: () => seen, carried };
}

/** The proxy's port once it listens on 127.0.0.1. */
export async function listenFrameProxy(proxy: FrameProxy): Promise<number> {
  await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
  const address = proxy.server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return address.port;
}
