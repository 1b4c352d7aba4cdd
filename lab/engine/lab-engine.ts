/**
 * `--engine`: which `LabDocker` the controller drives. `docker` (the default) runs every node as a plain
 * container on a bridge network; `swarm` runs every node as a Swarm service on an overlay network
 * (swarm-lab-docker.ts, docs/swarm.md). The controller and the scenario runner see only `LabDocker`.
 */
import type Docker from 'dockerode';

import { DockerodeLabDocker } from './dockerode-lab-docker';
import { UsageError } from '../errors';
import type { LabDocker } from './lab-docker';
import { SwarmLabDocker } from './swarm-lab-docker';

export const LAB_ENGINES = ['docker', 'swarm'] as const;
export type LabEngine = (typeof LAB_ENGINES)[number];
export const DEFAULT_LAB_ENGINE: LabEngine = 'docker';

export function parseLabEngine(value: string | undefined): LabEngine {
  if (value === undefined) return DEFAULT_LAB_ENGINE;
  const engine = LAB_ENGINES.find((name) => name === value);
  if (engine === undefined) throw new UsageError(`--engine must be one of ${LAB_ENGINES.join(', ')}, got "${value}"`);
  return engine;
}

/**
 * The `LabDocker` of an engine. For `swarm` it first checks that the daemon is a Swarm manager, so that a
 * missing `docker swarm init` is one clear error (`ERR_LAB_SWARM_INACTIVE`) before anything is created.
 */
export async function createLabDocker(engine: LabEngine, docker: Docker): Promise<LabDocker> {
  if (engine === 'docker') return new DockerodeLabDocker({ docker });
  const swarm = new SwarmLabDocker({ docker });
  await swarm.nodeId();
  return swarm;
}
