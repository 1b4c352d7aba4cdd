/**
 * A run's teardown: its containers removed at most TEARDOWN_CONCURRENCY at a time, every one of them even
 * when one fails, the network last, and a network dockerd still reports endpoints on (403) retried. It is
 * bounded: a dockerd that stops answering ends it with ERR_LAB_TEARDOWN_INCOMPLETE naming what is left.
 */
import { LabController, TEARDOWN_CONCURRENCY } from '../../lab/controller';
import type { CallInit } from '../../lab/engine/lab-docker';
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
  /** Container ids whose removal dockerd never answers (until the caller gives up). */
  hanging?: string[];
  /** Container ids whose removal never ends, whatever the caller's signal (an engine that ignores it). */
  deaf?: string[];
  /** Container ids dockerd answers removed but still lists once (a removal that lands later). */
  lingering?: string[];
}

function fakeDocker(init: FakeInit): { docker: LabDocker; log: string[]; maxInFlight: () => number } {
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let busy = init.networkBusy ?? 0;
  const present = new Map(Array.from({ length: init.containers }, (_, i) => [`c${i + 1}`, container(i + 1)]));
  const lingering = new Set(init.lingering ?? []);
  const docker = {
    listContainers: async () => [...present.values()],
    listNetworks: async () => [{ id: 'n1', name: 'swarmlab-big', labels: {} }],
    removeContainer: async (id: string, call: CallInit = {}) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (init.hanging?.includes(id)) {
          // dockerd never answers: only the caller's signal ends the wait.
          await new Promise<void>((_, reject) => {
            call.signal?.addEventListener('abort', () => reject(new DockerError(`remove ${id}`, call.signal?.reason)));
          });
        }
        if (init.deaf?.includes(id)) await new Promise<void>(() => undefined);
        await new Promise((done) => setTimeout(done, 2));
      } finally {
        inFlight--;
      }
      if (init.failing?.includes(id))
        throw new DockerError(`remove ${id}`, Object.assign(new Error('boom'), { statusCode: 500 }));
      log.push(`rm ${id}`);
      if (lingering.delete(id)) return;
      present.delete(id);
    },
    removeNetwork: async (id: string) => {
      if (busy > 0) {
        busy--;
        log.push(`busy ${id}`);
        throw new DockerError(
          `remove network ${id}`,
          Object.assign(new Error('has active endpoints'), { statusCode: 403 }),
        );
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
    await expect(controllerOf(docker).down('big')).rejects.toMatchObject({
      code: 'ERR_LAB_TEARDOWN_INCOMPLETE',
      cause: { code: 'ERR_LAB_DOCKER' },
      left: { containers: ['big-peer-1'], networks: [] },
    });
    expect(log.filter((l) => l.startsWith('rm c'))).toHaveLength(39);
    // Nothing was removed while a container was still attached to it.
    expect(log).not.toContain('rm-net n1');
  });

  it('ends in bounded time when dockerd stops answering, naming what is left', async () => {
    const { docker, log } = fakeDocker({ containers: 30, hanging: ['c7', 'c21'] });
    const startedAtMs = Date.now();
    const down = controllerOf(docker).down('big', { callTimeoutMs: 200, timeoutMs: 1_000 });
    await expect(down).rejects.toMatchObject({
      code: 'ERR_LAB_TEARDOWN_INCOMPLETE',
      left: { containers: ['big-peer-7', 'big-peer-21'], networks: [] },
    });
    await expect(down).rejects.toThrow(/npm run lab -- down --run big/);
    expect(Date.now() - startedAtMs).toBeLessThan(3_000);
    expect(log.filter((l) => l.startsWith('rm c'))).toHaveLength(28);
  });

  it('stays bounded when the engine ignores the abort signal', async () => {
    const { docker } = fakeDocker({ containers: 5, deaf: ['c2'] });
    const down = controllerOf(docker).down('big', { callTimeoutMs: 200, timeoutMs: 1_000 });
    await expect(down).rejects.toMatchObject({
      code: 'ERR_LAB_TEARDOWN_INCOMPLETE',
      left: { containers: ['big-peer-2'], networks: [] },
    });
  });

  it('removes again what dockerd still lists after a pass', async () => {
    const { docker, log } = fakeDocker({ containers: 20, lingering: ['c3', 'c4'] });
    await expect(controllerOf(docker).down('big')).resolves.toEqual({ containers: 20, networks: 1 });
    expect(log.filter((l) => l === 'rm c3')).toHaveLength(2);
    expect(log.at(-1)).toBe('rm-net n1');
  });
});
