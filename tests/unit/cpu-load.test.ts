/**
 * The busy processes behind SWARMLAB_TEST_LOAD: how many the variable asks for, and that `stop()` leaves
 * none of them running.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

import { requestedBurners, startCpuLoad } from '../helpers/cpu-load';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** utime of a Linux process: the 14th field of /proc/PID/stat (the name, field 2, is in parentheses). */
function userTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[11]);
}

describe('cpu load for the scenario tests', () => {
  it('reads SWARMLAB_TEST_LOAD: unset or 0 is none, 1 is one per core (at least 2), N is N', () => {
    expect(requestedBurners(undefined)).toBe(0);
    expect(requestedBurners('0')).toBe(0);
    expect(requestedBurners('1')).toBe(Math.max(2, availableParallelism()));
    expect(requestedBurners('3')).toBe(3);
    expect(() => requestedBurners('lots')).toThrow(/SWARMLAB_TEST_LOAD/);
  });

  it('starts busy processes that use CPU, and stop() kills every one', async () => {
    const load = startCpuLoad(2);
    try {
      expect(load.pids).toHaveLength(2);
      for (const pid of load.pids) expect(alive(pid)).toBe(true);
      // Each one spins: its user CPU time (/proc/PID/stat, clock ticks) grows.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const pid of load.pids) expect(userTicks(pid)).toBeGreaterThan(0);
      for (const pid of load.pids) expect(alive(pid)).toBe(true);
    } finally {
      await load.stop();
    }
    for (const pid of load.pids) expect(alive(pid)).toBe(false);
  });
});
