/**
 * What `lab run ARG` was given: a scenario (a file, or the name of a shipped one), or a run to replay (a
 * run folder, or the run.json in one). A directory is always a run folder: a scenario is a file.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';

import { RUN_RECORD_FILE } from './run-record';

export type RunTarget = { kind: 'scenario'; file: string } | { kind: 'replay'; target: string };

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function runTarget(arg: string, isDir: (path: string) => boolean = isDirectory): RunTarget {
  if (basename(arg) === RUN_RECORD_FILE || arg.endsWith('/') || isDir(arg)) return { kind: 'replay', target: arg };
  return { kind: 'scenario', file: arg };
}
