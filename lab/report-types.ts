/**
 * The shapes of a run's results: what the scenario runner reports, what `chaos` summarises, and what the
 * printer, the HTML report and `--json` read. A leaf module (it imports nothing of the lab), so every
 * layer can name these types without depending on the code that produces them.
 */
import type { DownloadSummary } from '../src/shared/download-report';

export interface DownloadReport extends DownloadSummary {
  ms?: number;
  /** When the download finished, in ms from the start of the scenario. */
  finishedAtMs?: number;
  /** Chunks the peer already held (verified) when this download started: it resumed. */
  keptChunks?: number;
}

export interface StepReport {
  index: number;
  action: string;
  targets: string[];
  ok: boolean;
  startedAtMs: number;
  ms: number;
  /** CPU time (user + system) the lab's own process spent while the step ran, in ms. */
  cpuMs?: number;
  error?: string;
}

/** What bringing a run up and down cost, and what its peers hold idle (lab/commands.ts replayScenario). */
export interface RunCosts {
  /** From the first container created to every peer ready, in s. */
  upS: number;
  /**
   * Removing the run's containers and network, in s (absent when the run is kept); also set when the
   * teardown ended incomplete (bounded, see `teardownError`).
   */
  downS?: number;
  /** Why the teardown left something behind (its code is ERR_LAB_TEARDOWN_INCOMPLETE, or the first failure's). */
  teardownError?: { code: string; message: string };
  /**
   * The median peer container's memory right after `up`, before any step, as `docker stats` shows it
   * (cgroup usage without inactive page cache), in MB (10^6 bytes); null when the cgroups are not readable.
   */
  peerIdleRssMB: number | null;
}

/** The step marked `fault: true`, once it started: its index, action and start (ms from the scenario start). */
export interface FaultMark {
  index: number;
  action: string;
  atMs: number;
}

export interface ScenarioReport {
  scenario: string;
  ok: boolean;
  ms: number;
  error?: { code: string; message: string };
  steps: StepReport[];
  downloads: DownloadReport[];
  fault?: FaultMark;
  /**
   * Time to recover: from the fault step's start to the end of the last download that finished after it
   * and verified, in ms. Undefined without a fault step or without such a download.
   */
  recoverMs?: number;
  /** The scenario's network: which layer enforced each property, and every link's conditions at the start. */
  network?: NetworkReport;
  /** The run's start-up and teardown (set by `lab run` and `lab demo`, not by the runner). */
  costs?: RunCosts;
}

/** `app`: the peers' link emulator; `kernel`: packet filters or qdiscs; `unsupported`: not enforced on this host. */
export type EnforcementLayer = 'app' | 'kernel' | 'netem' | 'unsupported';

export interface NetworkEnforcement {
  latency: EnforcementLayer;
  jitter: EnforcementLayer;
  loss: EnforcementLayer;
  bandwidth: EnforcementLayer;
  partition: EnforcementLayer;
}

export interface NetworkReport {
  enforcement: NetworkEnforcement;
  links: {
    between: [string, string];
    latencyMs: number;
    jitterMs: number;
    lossPercent: number;
    bandwidth: number | null;
  }[];
}

export interface ChaosResult {
  fault: string;
  /** The scenario's name (its file without `.yaml`). */
  scenario: string;
  /** The run the scenario used. */
  run: string;
  survived: boolean;
  /** Size of the download that ended the recovery, when it verified byte-identical; else 0. */
  bytesVerified: number;
  /** Time to recover in seconds (one decimal), or null when there was no recovery. */
  recoverS: number | null;
  /** Why the fault was not survived. */
  error?: string;
}
