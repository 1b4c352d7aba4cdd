/**
 * A run's teardown: its containers removed at most TEARDOWN_CONCURRENCY at a time, every one of them even
 * when one fails, the network last, and a network dockerd still reports endpoints on (403) retried.
 */
import { LabController, TEARDOWN_CONCURRENCY } from '../../lab/controller';
import type { LabContainer, LabDocker } from '../../lab/engine/lab-docker';
import { DockerError } from '../../lab/errors';

function container(i: number): LabContainer {
  return {
    id: `c${i}`,
    name: `big-peer-${i}`,
    run: 'big',
    role: 'peer',
    shortName: `peer-${i}`,
    state: 'running',
    health: 'healthy',
    ip: undefined,
    labels: {},
  };
}

interface FakeInit {
  containers: number;
  /** Container ids whose removal fails. */
  failing?: string[];
  /** How many times the network refuses removal with 403 first. */
  networkBusy?: number;
}

function fakeDocker(init: FakeInit): { docker: LabDocker; log: string[]; maxInFlight: () => number } {
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let busy = init.networkBusy ?? 0;
  const docker = {
    listContainers: async () => Array.from({ length: init.containers }, (_, i) => container(i + 1)),
    listNetworks: async () => [{ id: 'n1', name: 'swarmlab-big', labels: {} }],
    removeContainer: async (id: string) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((done) => setTimeout(done, 2));
      inFlight--;
      if (init.failing?.includes(id)) throw new DockerError(`remove ${id}`, Object.assign(new Error('boom'), { statusCode: 500 }));
      log.push(`rm ${id}`);
    },
    removeNetwork: async (id: string) => {
      if (busy > 0) {
        busy--;
        log.push(`busy ${id}`);
        throw new DockerError(`remove network ${id}`, Object.assign(new Error('has active endpoints'), { statusCode: 403 }));
      }
      log.push(`rm-net ${id}`);
    },
  } as unknown as LabDocker;
  return { docker, log, maxInFlight: () => maxInFlight };
}

function controllerOf(docker: LabDocker): LabController {
  return new LabController({ docker, ensureImages: () => Promise.reject(new Error('no images')) });
}

describe('lab teardown', () => {
  it('removes 100 containers at most TEARDOWN_CONCURRENCY at a time, then the network', async () => {
    const { docker, log, maxInFlight } = fakeDocker({ containers: 100 });
    await expect(controllerOf(docker).down('big')).resolves.toEqual({ containers: 100, networks: 1 });
    expect(maxInFlight()).toBe(TEARDOWN_CONCURRENCY);
    expect(log.filter((l) => l.startsWith('rm c'))).toHaveLength(100);
    expect(log.at(-1)).toBe('rm-net n1');
  });

  it('retries a network that still has endpoints', async () => {
    const { docker, log } = fakeDocker({ containers: 3, networkBusy: 2 });
    await expect(controllerOf(docker).down('big')).resolves.toEqual({ containers: 3, networks: 1 });
    expect(log.slice(-3)).toEqual(['busy n1', 'busy n1', 'rm-net n1']);
  }, 10_000);

  it('removes every other container when one removal fails, then reports that failure', async () => {
    const { docker, log } = fakeDocker({ containers: 40, failing: ['c1'] });
    await expect(controllerOf(docker).down('big')).rejects.toMatchObject({ code: 'ERR_LAB_DOCKER' });
    expect(log.filter((l) => l.startsWith('rm c'))).toHaveLength(39);
  });
});
