/**
 * An idle peer has no hashing thread: a worker thread costs about 10 MB of private memory, and a lab runs
 * up to 200 peers that mostly wait. The thread starts at the peer's first hash job (its first download),
 * and that first download still verifies. Counted from outside, as the kernel sees the peer process:
 * its threads in /proc/PID/task (a worker adds one; Node's own pools are running by the time it idles).
 */
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import type { LocalSwarm } from '../../src/cli/local-swarm';
import { assertBuilt, createSwarm, dumpLogs } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16 * 1024;

async function threadsOf(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/task`)).length;
}

/** The thread count once it has stayed the same for a second (the peer's start-up work is over). */
async function settledThreads(pid: number): Promise<number> {
  let last = await threadsOf(pid);
  for (let same = 0; same < 4; ) {
    await sleep(250);
    const now = await threadsOf(pid);
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

describe('an idle peer', () => {
  let swarm: LocalSwarm;
  let logs: string[];

  beforeAll(async () => {
    assertBuilt();
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('dl', 'connect');
  });

  afterAll(async () => {
    dumpLogs(logs);
    await swarm?.stop();
  });

  it('starts its hashing thread at its first download, which verifies', async () => {
    const pid = swarm.peer('dl').process.pid!;
    const idle = await settledThreads(pid);

    await swarm.control('pub', 'generate', { name: 'first.bin', size: 20 * CHUNK, seed: 'idle' });
    await swarm.control('pub', 'upload');
    // Still idle after status requests and the publisher's announcement: no thread yet.
    await swarm.control('dl', 'status');
    expect(await settledThreads(pid)).toBe(idle);

    const result = await swarm.control('dl', 'download', { name: 'first.bin' });
    expect(result).toMatchObject({ file: 'first.bin', bytes: 20 * CHUNK, verified: true });
    // The hashing thread: one more thread, kept (unreferenced) for the next download.
    expect(await settledThreads(pid)).toBe(idle + 1);
  });
});
