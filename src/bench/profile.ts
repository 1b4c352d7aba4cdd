/**
 * CPU profiles of the processes LocalSwarm spawns. Node refuses `--cpu-prof` in NODE_OPTIONS, but it
 * accepts `--require`: a small preload starts the V8 profiler through `node:inspector` and writes
 * `<pid>-<command>.cpuprofile` when the process exits (open it in Chrome DevTools or speedscope).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const PRELOAD_FILE = 'swarmlab-cpu-profiler.cjs';

const PRELOAD = `
const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const dir = process.env.SWARMLAB_CPU_PROFILE_DIR;
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');
process.once('exit', () => {
  // An in-thread inspector session answers synchronously, so this runs before the process is gone.
  session.post('Profiler.stop', (error, result) => {
    if (error) return;
    const command = process.argv[2] || 'node';
    writeFileSync(join(dir, process.pid + '-' + command + '.cpuprofile'), JSON.stringify(result.profile));
  });
});
`;

/** Environment for LocalSwarm that makes every spawned process write a CPU profile into `dir`. */
export async function cpuProfileEnv(dir: string): Promise<NodeJS.ProcessEnv> {
  const preload = join(dir, PRELOAD_FILE);
  await writeFile(preload, PRELOAD);
  const options = `${process.env['NODE_OPTIONS'] ?? ''} --require ${JSON.stringify(preload)}`.trim();
  return { NODE_OPTIONS: options, SWARMLAB_CPU_PROFILE_DIR: dir };
}
