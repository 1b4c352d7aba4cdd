/**
 * The host's neighbour (ARP) table, sized before a run starts: the plan only ever raises the limits, the
 * check reads nothing for small runs, and `up` raises the limits before it creates anything (or warns
 * and goes on when it cannot).
 */
import { LabController } from '../../lab/controller';
import type { LabDocker } from '../../lab/engine/lab-docker';
import {
  KERNEL_DEFAULT_GC_THRESH3,
  ensureNeighbourTable,
  neighbourEntriesNeeded,
  plannedNeighbourLimits,
  sysctlCommand,
  type NeighbourLimits,
  type NeighbourTable,
} from '../../lab/neighbour-table';

const GIB = 1024 * 1024 * 1024;
const KERNEL_DEFAULTS: NeighbourLimits = { gcThresh1: 128, gcThresh2: 512, gcThresh3: 1024 };

/** A table in memory that records what was written, or refuses writes as a non-root user's /proc does. */
function fakeTable(limits: NeighbourLimits | undefined, init: { refuse?: boolean } = {}): NeighbourTable & { reads: number; writes: NeighbourLimits[] } {
  let current = limits;
  const table = {
    reads: 0,
    writes: [] as NeighbourLimits[],
    read: () => {
      table.reads++;
      return Promise.resolve(current);
    },
    write: (next: NeighbourLimits) => {
      if (init.refuse === true) return Promise.reject(new Error("EACCES: permission denied, open '/proc/sys/net/ipv4/neigh/default/gc_thresh3'"));
      table.writes.push(next);
      current = next;
      return Promise.resolve();
    },
  };
  return table;
}

describe('neighbour table plan', () => {
  it('counts every container resolving every other: peers, the tracker and the gateway', () => {
    expect(neighbourEntriesNeeded(100)).toBe(102 * 102);
    expect(neighbourEntriesNeeded(12)).toBeLessThanOrEqual(KERNEL_DEFAULT_GC_THRESH3);
  });

  it("raises the kernel's defaults to what 100 peers need, collection from half of it", () => {
    const needed = neighbourEntriesNeeded(100);
    expect(plannedNeighbourLimits(KERNEL_DEFAULTS, needed)).toEqual({ gcThresh1: 128, gcThresh2: Math.ceil(needed / 2), gcThresh3: needed });
  });

  it('never lowers a limit the operator set', () => {
    const generous = { gcThresh1: 80_000, gcThresh2: 90_000, gcThresh3: 100_000 };
    expect(plannedNeighbourLimits(generous, neighbourEntriesNeeded(200))).toBeUndefined();
    // Only the hard limit is short: the others stay as they were, in order.
    const planned = plannedNeighbourLimits({ gcThresh1: 4096, gcThresh2: 8192, gcThresh3: 8192 }, 10_404);
    expect(planned).toEqual({ gcThresh1: 4096, gcThresh2: 8192, gcThresh3: 10_404 });
  });
});

describe('neighbour table check', () => {
  it('does not even read the table for a run the defaults hold', async () => {
    const table = fakeTable(KERNEL_DEFAULTS);
    await expect(ensureNeighbourTable(table, 30)).resolves.toMatchObject({ kind: 'enough' });
    expect(table.reads).toBe(0);
  });

  it('raises the limits for 99 peers and says from what to what', async () => {
    const table = fakeTable(KERNEL_DEFAULTS);
    const outcome = await ensureNeighbourTable(table, 100);
    expect(outcome).toMatchObject({ kind: 'raised', needed: 10_404, before: KERNEL_DEFAULTS, after: { gcThresh3: 10_404 } });
    expect(table.writes).toEqual([{ gcThresh1: 128, gcThresh2: 5202, gcThresh3: 10_404 }]);
    // A second run of the same size finds the table large enough.
    await expect(ensureNeighbourTable(table, 100)).resolves.toMatchObject({ kind: 'enough' });
    expect(table.writes).toHaveLength(1);
  });

  it('reports the command to run when it may not write', async () => {
    const outcome = await ensureNeighbourTable(fakeTable(KERNEL_DEFAULTS, { refuse: true }), 100);
    expect(outcome).toMatchObject({ kind: 'too-small', needed: 10_404, reason: expect.stringMatching(/EACCES/) as unknown });
    expect(outcome.kind === 'too-small' && outcome.command).toBe(sysctlCommand({ gcThresh1: 128, gcThresh2: 5202, gcThresh3: 10_404 }));
    expect(sysctlCommand(KERNEL_DEFAULTS)).toBe(
      'sysctl -w net.ipv4.neigh.default.gc_thresh1=128 net.ipv4.neigh.default.gc_thresh2=512 net.ipv4.neigh.default.gc_thresh3=1024',
    );
  });

  it('leaves a machine without the table alone', async () => {
    await expect(ensureNeighbourTable(fakeTable(undefined), 200)).resolves.toMatchObject({ kind: 'enough' });
  });
});

describe('up and the neighbour table', () => {
  /** A LabDocker that refuses every call, recording the order of events with the table's writes. */
  function refusingDocker(events: string[]): LabDocker {
    return new Proxy(
      {},
      {
        get: (_target, name) => (): Promise<never> => {
          events.push(`docker.${String(name)}`);
          return Promise.reject(new Error(`unexpected docker call ${String(name)}`));
        },
      },
    ) as LabDocker;
  }

  function controllerWith(table: NeighbourTable, events: string[]): LabController {
    return new LabController({
      docker: refusingDocker(events),
      ensureImages: () => Promise.reject(new Error('no images')),
      hostMemory: () => ({ totalBytes: 64 * GIB, availableBytes: 60 * GIB }),
      neighbourTable: table,
    });
  }

  const peers = Array.from({ length: 99 }, (_, i) => ({ name: `peer-${i + 1}` }));

  it('raises the limits before the first container of a 99-peer run', async () => {
    const events: string[] = [];
    const table = fakeTable(KERNEL_DEFAULTS);
    const write = table.write;
    table.write = (limits) => {
      events.push('table.write');
      return write(limits);
    };
    // The fake Docker fails the run at its first call; by then the table must be large enough.
    await expect(controllerWith(table, events).up({ run: 'big', peers })).rejects.toThrow();
    expect(table.writes).toEqual([{ gcThresh1: 128, gcThresh2: Math.ceil(10_201 / 2), gcThresh3: 10_201 }]);
    const firstCreate = events.findIndex((event) => /create|start/i.test(event));
    expect(events.indexOf('table.write')).toBeLessThan(firstCreate === -1 ? Number.POSITIVE_INFINITY : firstCreate);
  });

  it('goes on with a warning when the limits cannot be raised', async () => {
    const events: string[] = [];
    await expect(controllerWith(fakeTable(KERNEL_DEFAULTS, { refuse: true }), events).up({ run: 'big', peers })).rejects.toThrow(
      /unexpected docker call/,
    );
  });
});
