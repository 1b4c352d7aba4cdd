/**
 * The lab's limits, checked before anything starts: at most MAX_PEERS peers (a scenario's JSON pointer
 * says where), and no run that needs more memory than the machine has available.
 */
import { upCommand, type CommandContext } from '../../lab/commands';
import { LabController } from '../../lab/controller';
import type { LabDocker } from '../../lab/engine/lab-docker';
import {
  PEER_CHUNK_BUFFERS,
  PEER_IDLE_BYTES,
  TRACKER_BYTES,
  assertMemoryFits,
  estimateRunMemory,
  swarmHostMemory,
} from '../../lab/memory-estimate';
import { Printer } from '../../lab/print';
import { validateScenario } from '../../lab/scenario/load';
import { MAX_PEERS } from '../../lab/scenario/schema';
import { MAX_LAB_LEECHERS } from '../../src/bench/run-bench';
import { DEFAULT_MAX_IDLE_PER_SIZE } from '../../src/peer/buffer-pool';
import { DEFAULT_MAX_INFLIGHT_PER_SOURCE } from '../../src/peer/download-scheduler';
import { DEFAULT_CHUNK_BYTES } from '../../src/protocol';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** A LabDocker that records every call and answers none: anything the lab starts shows up in `calls`. */
function recordingDocker(): { docker: LabDocker; calls: string[] } {
  const calls: string[] = [];
  const docker = new Proxy(
    {},
    {
      get: (_target, name) => (): Promise<never> => {
        calls.push(String(name));
        return Promise.reject(new Error(`unexpected docker call ${String(name)}`));
      },
    },
  ) as LabDocker;
  return { docker, calls };
}

function scenarioWith(peers: unknown): unknown {
  return { name: 'big', peers, steps: [{ action: 'status', peer: 'peer-1' }] };
}

function issuesOf(fn: () => unknown): { instancePath: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toMatchObject({ code: 'ERR_LAB_SCENARIO_INVALID' });
    return (err as { issues: { instancePath: string; message: string }[] }).issues;
  }
  throw new Error('expected the scenario to be refused');
}

describe('peer limit', () => {
  it('takes 200 peers, as a count or as a list', () => {
    expect(MAX_PEERS).toBe(200);
    expect(() => validateScenario(scenarioWith(200))).not.toThrow();
    const list = Array.from({ length: 200 }, (_, i) => ({ name: `peer-${i + 1}` }));
    expect(() => validateScenario(scenarioWith(list))).not.toThrow();
  });

  it('refuses 201 peers with the pointer /peers and the limit', () => {
    for (const peers of [201, Array.from({ length: 201 }, (_, i) => ({ name: `peer-${i + 1}` }))]) {
      const issues = issuesOf(() => validateScenario(scenarioWith(peers)));
      expect(issues).toEqual([{ instancePath: '/peers', message: expect.stringMatching(/200.*201/) as unknown }]);
    }
  });

  it('refuses up --peers 201 before touching Docker', async () => {
    const { docker, calls } = recordingDocker();
    const controller = new LabController({ docker, ensureImages: () => Promise.reject(new Error('no images')) });
    const ctx: CommandContext = {
      controller,
      printer: new Printer({ out: { write: () => undefined } }),
      signal: new AbortController().signal,
    };
    await expect(upCommand(ctx, { run: 'big', peers: MAX_PEERS + 1 })).rejects.toMatchObject({
      code: 'ERR_LAB_USAGE',
    });
    expect(calls).toEqual([]);
  });

  it('lets the bench run a scenario of MAX_PEERS: one seeder and the rest downloaders', () => {
    expect(MAX_LAB_LEECHERS + 1).toBe(MAX_PEERS);
  });
});

describe('memory estimate', () => {
  it('counts the peer constants it is built on', () => {
    expect(PEER_CHUNK_BUFFERS).toBe(DEFAULT_MAX_IDLE_PER_SIZE + DEFAULT_MAX_INFLIGHT_PER_SOURCE);
  });

  it('adds an idle figure and chunk buffers per peer, every tmpfs and the tracker', () => {
    const peers = [{}, { dataTmpfsBytes: 8 * MIB }, { env: { SWARMLAB_CHUNK_SIZE: String(MIB) } }];
    const estimate = estimateRunMemory(peers, { chunkBytes: 64 * 1024 });
    expect(estimate).toEqual({
      peers: 3,
      chunkBytes: MIB,
      idleBytes: 3 * PEER_IDLE_BYTES,
      chunkBufferBytes: PEER_CHUNK_BUFFERS * (64 * 1024 + 64 * 1024 + MIB),
      tmpfsBytes: 8 * MIB,
      totalBytes: 3 * PEER_IDLE_BYTES + PEER_CHUNK_BUFFERS * (2 * 64 * 1024 + MIB) + 8 * MIB + TRACKER_BYTES,
    });
    expect(estimateRunMemory([{}]).chunkBytes).toBe(DEFAULT_CHUNK_BYTES);
  });

  it('passes a run that fits and refuses one that does not, with the numbers', () => {
    const estimate = estimateRunMemory(
      Array.from({ length: 200 }, () => ({})),
      { chunkBytes: 64 * 1024 },
    );
    expect(estimate.totalBytes).toBe(200 * PEER_IDLE_BYTES + 200 * PEER_CHUNK_BUFFERS * 64 * 1024 + TRACKER_BYTES);
    expect(() => assertMemoryFits(estimate, { totalBytes: 24 * GIB, availableBytes: 20 * GIB })).not.toThrow();
    const small = { totalBytes: 4 * GIB, availableBytes: 3 * GIB };
    expect(() => assertMemoryFits(estimate, small)).toThrow(
      expect.objectContaining({ code: 'ERR_LAB_MEMORY_EXCEEDED', name: 'MemoryExceededError' }),
    );
    // The figures a reader needs: what the run needs, per peer, and what the machine has.
    const mib = (bytes: number): string => Math.ceil(bytes / MIB).toLocaleString('en-US');
    expect(() => assertMemoryFits(estimate, small)).toThrow(
      new RegExp(
        `about ${mib(estimate.totalBytes)} MiB.*200 peers × ${mib(PEER_IDLE_BYTES)} MiB idle.*` +
          `${mib(3 * GIB)} MiB available of ${mib(4 * GIB)} MiB`,
      ),
    );
  });

  it('refuses a run that does not fit before it creates anything, for up and for scenarios', async () => {
    const { docker, calls } = recordingDocker();
    const controller = new LabController({
      docker,
      ensureImages: () => Promise.reject(new Error('no images')),
      hostMemory: () => ({ totalBytes: 2 * GIB, availableBytes: GIB }),
    });
    const peers = Array.from({ length: 40 }, (_, i) => ({ name: `peer-${i + 1}` }));
    await expect(controller.up({ run: 'big', peers })).rejects.toMatchObject({ code: 'ERR_LAB_MEMORY_EXCEEDED' });
    expect(calls).toEqual([]);
    // The same machine takes a run that fits: the controller goes on (and fails later on the fake Docker).
    await expect(controller.up({ run: 'small', peers: peers.slice(0, 4) })).rejects.toThrow(/unexpected docker call/);
    expect(calls.length).toBeGreaterThan(0);
  });

  it('with --engine swarm counts every peer against the manager the services are pinned to', async () => {
    const local = (): { totalBytes: number; availableBytes: number } => ({ totalBytes: 64 * GIB, availableBytes: 60 * GIB });
    // The manager is this machine: this machine's figures.
    expect(swarmHostMemory({ hostname: 'here', memTotalBytes: 2 * GIB }, local, 'here')()).toEqual(local());
    // Another host: its total, as its daemon reports it, whatever this machine has.
    const remote = swarmHostMemory({ hostname: 'manager-1', memTotalBytes: 2 * GIB }, local, 'here');
    expect(remote()).toEqual({ totalBytes: 2 * GIB, availableBytes: 2 * GIB });
    const { docker, calls } = recordingDocker();
    const controller = new LabController({
      docker,
      ensureImages: () => Promise.reject(new Error('no images')),
      hostMemory: remote,
    });
    const peers = Array.from({ length: 80 }, (_, i) => ({ name: `peer-${i + 1}` }));
    await expect(controller.up({ run: 'big', peers })).rejects.toMatchObject({ code: 'ERR_LAB_MEMORY_EXCEEDED' });
    expect(calls).toEqual([]);
  });
});
