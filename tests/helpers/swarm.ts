/**
 * A single-node swarm for the Swarm tests, left as it was found: when this daemon is not in a swarm,
 * `useSingleNodeSwarm` starts one (`docker swarm init --advertise-addr 127.0.0.1`, listening on
 * 127.0.0.1 only) and `release()` leaves it again, and removes the `docker_gwbridge` network that Swarm
 * made for it; when the daemon already is a manager, both leave everything alone.
 */
import type Docker from 'dockerode';

import { swarmNodeInfo } from '../../lab/engine/swarm-mode';

/** The bridge that links overlay tasks to the outside; Swarm creates it and leaves it behind. */
const GATEWAY_BRIDGE = 'docker_gwbridge';

export interface SwarmLease {
  /** True when this lease started the swarm (and `release()` will leave it). */
  initialised: boolean;
  release(): Promise<void>;
}

export async function useSingleNodeSwarm(docker: Docker): Promise<SwarmLease> {
  const node = await swarmNodeInfo(docker);
  if (node.state === 'active') {
    if (!node.isManager) throw new Error('this Docker daemon is a swarm worker; the Swarm tests need a manager');
    return { initialised: false, release: async () => undefined };
  }
  if (node.state !== 'inactive') throw new Error(`swarm node state is "${node.state}"; not touching it`);
  const hadGatewayBridge = (await docker.listNetworks({ filters: { name: [GATEWAY_BRIDGE] } })).length > 0;
  await docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' });
  let released = false;
  return {
    initialised: true,
    release: async () => {
      if (released) return;
      released = true;
      await docker.swarmLeave({ force: true });
      if (hadGatewayBridge) return;
      // Another container may have joined an overlay meanwhile (and still use it): then it stays.
      await docker
        .getNetwork(GATEWAY_BRIDGE)
        .remove()
        .catch(() => undefined);
    },
  };
}
