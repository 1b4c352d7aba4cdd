/**
 * A download under a download rate waits for its token bucket once per request it cannot send yet,
 * each wait listening on the download's abort signal: a window of 16 requests per source put more than
 * 10 listeners on one signal, and every rate-limited peer printed MaxListenersExceededWarning ("possible
 * memory leak") on stderr. The waits are bounded by the request windows, so the signal takes them.
 * Real peer processes: the warning is what their stderr shows a user.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSwarm, dumpLogs, type LoggedSwarm } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;
const CHUNKS = 48;

describe('a rate-limited download', () => {
  let swarm: LoggedSwarm['swarm'];
  let logs: string[];

  beforeAll(async () => {
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
  });

  afterAll(async () => {
    await swarm?.stop();
  });

  test('arrives intact and prints no MaxListenersExceededWarning', async () => {
    try {
      await swarm.startPeer('seeder', { chunkSize: CHUNK });
      // 16 chunks a second: most of each request window waits for the bucket at once.
      await swarm.startPeer('limited', { chunkSize: CHUNK, downloadRate: 16 * CHUNK });
      await swarm.control('seeder', 'connect');
      await swarm.control('limited', 'connect');
      await swarm.control('seeder', 'generate', { name: 'limited.bin', size: CHUNKS * CHUNK, seed: 'limited' });
      await swarm.control('seeder', 'upload');
      const result = await swarm.control('limited', 'download', { name: 'limited.bin' });
      const copy = await readFile(result['path'] as string);
      expect(copy.equals(await readFile(join(swarm.peer('seeder').dir, 'limited.bin')))).toBe(true);
      await swarm.stopPeer('limited');
      expect(logs.filter((line) => /MaxListenersExceeded|memory leak/.test(line))).toEqual([]);
    } catch (error) {
      dumpLogs(logs);
      throw error;
    }
  });
});
