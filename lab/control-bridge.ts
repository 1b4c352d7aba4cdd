/**
 * The process at the far end of a peer's control channel: started once per peer by an exec with stdin
 * attached, it connects to the peer's control listener and copies bytes both ways, so that every control
 * request of a run travels over one exec instead of starting `swarmlab ctl` (a Node process of about a
 * quarter CPU-second) per command.
 *
 * Where the image has `nc` (busybox, as in the offline base image) and the peer listens for control on
 * its loopback (the lab starts every peer with SWARMLAB_CONTROL_TCP=LAB_CONTROL_TCP, see constants.ts),
 * the bridge is `nc` to that port: a few hundred KB where a Node process keeps about 7 MB of private
 * memory in every peer container for the whole run. Otherwise (node:*-slim has no `nc`, a peer started
 * without the listener) it is the Node script below on the Unix socket.
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
import { CONTROL_SOCKET, LAB_CONTROL_TCP_PORT } from './constants';

/** How long the bridge waits for the control socket to appear and accept, in ms. */
export const BRIDGE_CONNECT_WAIT_MS = 30_000;
const BRIDGE_RETRY_MS = 100;
/** How long the `nc` channel checks for the peer's listener every BRIDGE_RETRY_MS before it slows down. */
const BRIDGE_FAST_WAIT_MS = 1_000;
/** The `nc` channel's later checks; below 1000 ms, as its script sleeps `0.<ms>` seconds. */
const BRIDGE_SLOW_RETRY_MS = 400;

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

/**
 * The argv of the channel's exec: `nc` to the peer's loopback control port when the image has it and the
 * peer was started with that listener (its SWARMLAB_CONTROL_TCP, which the exec inherits), else the Node
 * bridge. `nc` cannot wait for a listener that is not there yet, so the script first waits (up to
 * `waitMs`) for the port to be listening in /proc/net/tcp, as the tracker's healthcheck does: every
 * BRIDGE_RETRY_MS for the first BRIDGE_FAST_WAIT_MS, then every BRIDGE_SLOW_RETRY_MS. Each check forks a
 * `grep` and a `sleep`, and a peer that starts while a hundred others do takes seconds to listen, so
 * checking fast for longer would spend the CPU those peers start with.
 */
export function controlChannelArgv(
  socketPath: string = CONTROL_SOCKET,
  waitMs: number = BRIDGE_CONNECT_WAIT_MS,
  port: number = LAB_CONTROL_TCP_PORT,
): string[] {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const script = [
    `if [ "$SWARMLAB_CONTROL_TCP" = "127.0.0.1:${port}" ] && command -v nc >/dev/null 2>&1; then`,
    '  waited=0',
    `  until grep -qs ' 0100007F:${portHex} 00000000:0000 0A ' /proc/net/tcp; do`,
    `    if [ "$waited" -ge ${waitMs} ]; then echo "control bridge: nothing listens on 127.0.0.1:${port}" >&2; exit 1; fi`,
    `    if [ "$waited" -lt ${BRIDGE_FAST_WAIT_MS} ]; then step=${BRIDGE_RETRY_MS}; else step=${BRIDGE_SLOW_RETRY_MS}; fi`,
    '    sleep "0.$step"',
    '    waited=$((waited + step))',
    '  done',
    `  exec nc 127.0.0.1 ${port}`,
    'fi',
    'exec "$@"',
  ].join('\n');
  return ['sh', '-c', script, 'control-bridge', ...controlBridgeArgv(socketPath, waitMs)];
}
