/**
 * The process at the far end of a peer's control channel: started once per peer by an exec with stdin
 * attached, it connects to the peer's control socket and copies bytes both ways, so that every control
 * request of a run travels over one exec instead of starting `swarmlab ctl` (a Node process of about a
 * quarter CPU-second) per command.
 *
 * It is a few lines for the image's own `node -e`, not a command of the bundle: the images hold nothing
 * else that can open a Unix socket (busybox `nc` has no `-U`, and node:*-slim has no `nc` at all), and
 * `node -e` starts in a third of the time of the 1 MB bundle and keeps about 6 MB of private memory
 * (the node binary's pages are shared with the peer's own process).
 *
 * The socket may not exist yet when the bridge starts (a peer just created): it retries for up to
 * `waitMs`, so the first request of a run needs no probing loop around it. It exits when either side
 * ends: the lab closing the exec (stdin ends) or the peer going away (the socket ends).
 */
import { CONTROL_SOCKET } from './constants';

/** How long the bridge waits for the control socket to appear and accept, in ms. */
export const BRIDGE_CONNECT_WAIT_MS = 30_000;
const BRIDGE_RETRY_MS = 100;

// Plain JavaScript for `node -e`: runs in the container's Node, whatever its version (>= 12).
export const CONTROL_BRIDGE_SCRIPT = `'use strict';
const net = require('net');
const path = process.argv[1];
const deadline = Date.now() + Number(process.argv[2]);
const fail = (message) => {
  process.stderr.write('control bridge: ' + message + '\\n');
  process.exit(1);
};
process.stdout.on('error', () => process.exit(0));
const attempt = () => {
  const socket = net.connect(path);
  socket.once('error', (error) => {
    const early = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
    if (early && Date.now() < deadline) setTimeout(attempt, ${BRIDGE_RETRY_MS});
    else fail('cannot reach ' + path + ' (' + (error.code || error.message) + ')');
  });
  socket.once('connect', () => {
    socket.removeAllListeners('error');
    socket.on('error', (error) => fail(path + ': ' + (error.code || error.message)));
    process.stdout.on('finish', () => process.exit(0));
    process.stdin.pipe(socket);
    socket.pipe(process.stdout);
  });
};
attempt();
`;

/** The argv of the bridge for an exec in a peer container. */
export function controlBridgeArgv(
  socketPath: string = CONTROL_SOCKET,
  waitMs: number = BRIDGE_CONNECT_WAIT_MS,
): string[] {
  return ['node', '-e', CONTROL_BRIDGE_SCRIPT, socketPath, String(waitMs)];
}
