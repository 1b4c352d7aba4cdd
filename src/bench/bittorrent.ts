/**
 * The BitTorrent side-by-side runs only where aria2c, mktorrent and opentracker are installed; without
 * them the fields stay null and the note says why.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { BittorrentResult } from './types';

export const BITTORRENT_TOOLS = ['aria2c', 'mktorrent', 'opentracker'] as const;

export async function onPath(command: string, path = process.env['PATH'] ?? ''): Promise<boolean> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

export async function runBittorrentComparison(): Promise<BittorrentResult> {
  const missing: string[] = [];
  for (const tool of BITTORRENT_TOOLS) if (!(await onPath(tool))) missing.push(tool);
  if (missing.length > 0)
    return { pairSpeedup: null, demoSpeedup: null, note: `skipped: ${missing.join(', ')} not on PATH` };
  return {
    pairSpeedup: null,
    demoSpeedup: null,
    note: 'aria2c, mktorrent and opentracker are installed, but the BitTorrent runs are not implemented yet',
  };
}
