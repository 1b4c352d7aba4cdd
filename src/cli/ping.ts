/** `swarmlab ping HOST:PORT`: exit 0 when a tracker answers a LIST (the tracker's health check). */
import { connect } from 'node:net';
import { MessageType } from '../protocol';
import { FramedConnection } from '../shared/framed-connection';
import { createLogger } from '../shared/logger';
import { parseHostPort } from '../peer/tracker-client';

export async function pingTracker(target: string, timeoutMs = 3000): Promise<number> {
  const { host, port } = parseHostPort(target);
  const socket = connect({ host, port });
  const connection = new FramedConnection(socket, createLogger('ping'), { requestTimeoutMs: timeoutMs });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const response = await connection.request(MessageType.List, {});
    if (response.type !== MessageType.Files) return 1;
    return response.body.files.length;
  } finally {
    connection.close();
  }
}
