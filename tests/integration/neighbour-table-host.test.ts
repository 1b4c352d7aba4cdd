/**
 * The host adapter of the neighbour-table check on this machine's real /proc/sys: it reads what sysctl
 * reads, and as root it writes (the current values back, so the machine is left as it was).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { hostNeighbourTable } from '../../lab/neighbour-table';

const execFileAsync = promisify(execFile);
const onLinux = existsSync('/proc/sys/net/ipv4/neigh/default/gc_thresh3');

async function sysctl(name: string): Promise<number> {
  const { stdout } = await execFileAsync('sysctl', ['-n', `net.ipv4.neigh.default.${name}`]);
  return Number(stdout.trim());
}

(onLinux ? describe : describe.skip)('hostNeighbourTable', () => {
  it('reads the limits sysctl reports', async () => {
    await expect(hostNeighbourTable.read()).resolves.toEqual({
      gcThresh1: await sysctl('gc_thresh1'),
      gcThresh2: await sysctl('gc_thresh2'),
      gcThresh3: await sysctl('gc_thresh3'),
    });
  });

  it('writes the limits as root, and is refused otherwise', async () => {
    const current = await hostNeighbourTable.read();
    if (current === undefined) throw new Error('no table to write');
    if (process.getuid?.() === 0) {
      await expect(hostNeighbourTable.write(current)).resolves.toBeUndefined();
      await expect(hostNeighbourTable.read()).resolves.toEqual(current);
    } else {
      await expect(hostNeighbourTable.write(current)).rejects.toMatchObject({ code: expect.stringMatching(/EACCES|EPERM/) as unknown });
    }
  });
});
