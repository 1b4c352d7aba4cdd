/**
 * Busy processes that keep every core full while a test runs, so that a scenario is also tried at the
 * speed of a loaded host: `SWARMLAB_TEST_LOAD=1` (one burner per core) or `SWARMLAB_TEST_LOAD=N` (N burners).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';

export const TEST_LOAD_ENV = 'SWARMLAB_TEST_LOAD';

/**
 * A burner spins until it is killed; it also leaves by itself once its parent is gone (its parent pid
 * changes), so a test process that dies without its afterAll leaves no busy process behind.
 */
const BURNER_SCRIPT = 'const p=process.ppid;for(let i=1;;i++)if(i%5e7===0&&process.ppid!==p)process.exit(0)';

/** How many burners the environment asks for: 0 when unset or "0". */
export function requestedBurners(value = process.env[TEST_LOAD_ENV]): number {
  if (value === undefined || value === '' || value === '0') return 0;
  if (value === '1') return Math.max(2, availableParallelism());
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0) throw new Error(`${TEST_LOAD_ENV} must be 0, 1 or a number of burners`);
  return count;
}

export interface CpuLoad {
  readonly burners: number;
  /** The burners' process ids. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** Starts `count` burners; `stop()` kills exactly those (by their pid) and waits for them to exit. */
export function startCpuLoad(count: number): CpuLoad {
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    children.push(spawn(process.execPath, ['-e', BURNER_SCRIPT], { stdio: 'ignore' }));
  }
  return {
    burners: count,
    pids: children.map((child) => child.pid ?? -1),
    async stop(): Promise<void> {
      await Promise.all(
        children.map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          await exited;
        }),
      );
    },
  };
}
