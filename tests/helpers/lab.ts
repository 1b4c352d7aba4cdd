/**
 * The lab controller wired to the real Docker engine, with its printer writing into `lines`, as the
 * container tests drive it through the command functions.
 */
import { execFileSync } from 'node:child_process';

import Docker from 'dockerode';

import type { CommandContext } from '../../lab/commands';
import { LabController } from '../../lab/controller';
import { DockerodeLabDocker } from '../../lab/engine/dockerode-lab-docker';
import { ensureImages } from '../../lab/images/build-images';
import { Printer } from '../../lab/print';

export interface LabTestContext {
  docker: Docker;
  labDocker: DockerodeLabDocker;
  controller: LabController;
  /** Every line the lab printed. */
  lines: string[];
  abort: AbortController;
  ctx: CommandContext;
}

export function createLabTestContext(): LabTestContext {
  const docker = new Docker();
  const labDocker = new DockerodeLabDocker({ docker });
  const controller = new LabController({ docker: labDocker, ensureImages: (init) => ensureImages(docker, init) });
  const lines: string[] = [];
  const abort = new AbortController();
  const ctx: CommandContext = {
    controller,
    printer: new Printer({ out: { write: (line) => lines.push(line) } }),
    signal: abort.signal,
  };
  return { docker, labDocker, controller, lines, abort, ctx };
}

/**
 * True when the lab can put bandwidth in the kernel here: root (to enter the containers' namespaces) and
 * htb in this kernel, tried in a namespace of its own (the module is the kernel's, shared by all).
 */
export function htbOnHost(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('unshare', ['-n', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb'], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}
