/**
 * What the lab and the images agree on: names, ports and paths inside a container, the user the images
 * run as. Defined once here; the controller, the engines and the scenario steps read them from this file.
 */

/** The tracker's container and host name on a run's network, and its name in a scenario. */
export const TRACKER_NAME = 'tracker';
export const TRACKER_PORT = 7070;
export const PEER_PORT = 7071;
/** The tracker's Prometheus metrics (requests by type, CPU, memory), reachable at http://TRACKER_IP:9090/metrics. */
export const TRACKER_METRICS_PORT = 9090;
/**
 * The tracker container's CPU weight (cgroup cpu.shares; a container's default is 1024). On a real
 * network the tracker has a host of its own. Here it shares the cores with every peer, and under the
 * kernel's fair share a hundred busy peers leave it a hundredth of them: its answers then come later than
 * the peers' heartbeat timeout, the peers drop their links and register again, and the storm of
 * registrations starves it further. A weight of 16 peers keeps it answering while asking nothing of an
 * idle machine (a weight is not a reservation).
 */
export const TRACKER_CPU_SHARES = 16 * 1024;
/** A peer's data directory inside its container. */
export const DATA_DIR = '/data';
export const CONTROL_SOCKET = '/run/swarmlab/peer.sock';
/**
 * A second control listener every lab peer opens on its own loopback (SWARMLAB_CONTROL_TCP), so that the
 * lab's control channel can be the image's `nc` instead of a Node process (lab/control-bridge.ts).
 */
export const LAB_CONTROL_TCP_PORT = 7072;
/**
 * The token that listener requires (a TCP control listener always requires one, src/control/control-server.ts). It is
 * no secret and needs none: the listener is on the loopback of the container's own network namespace,
 * reachable only from inside the container, whose processes can read the environment that holds it.
 */
export const LAB_CONTROL_TOKEN = 'swarmlab-lab-loopback-control';
/** Path of the CLI inside the peer image. */
export const SWARMLAB_BIN = 'swarmlab';
/**
 * The user the images run as (`node`, 1000:1000; lab/images/README.md). tmpfs mounts are given to it by
 * `uid`/`gid`, because a mount `mode` is not honoured by every engine.
 */
export const IMAGE_UID = 1000;
