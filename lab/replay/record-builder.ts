/**
 * Assembles a run's RunRecord once it ended: what it executed (from the runner), and what it ran on (the
 * images' ids, inspected as soon as its containers exist; the host's network enforcement).
 */
import type { LabImages } from '../controller';
import type { LabDocker } from '../engine/lab-docker';
import type { LabEngine } from '../engine/lab-engine';
import { hostEnforcement } from '../network/run-network';
import type { ScenarioReport } from '../report-types';
import type { Scenario } from '../scenario/schema';
import { RUN_RECORD_VERSION, SWARMLAB_VERSION, type RecordedImage, type RunRecord } from './run-record';
import type { RunSeeds } from './seed';

export interface RunRecordInit {
  run: string;
  startedAt: number;
  engine: LabEngine;
  command: string[];
  source?: string;
  replayOf?: string;
  /** The resolved scenario the runner executed. */
  scenario: Scenario;
  seeds: RunSeeds;
  /** The images the run's containers were created from (`recordImages`); undefined when it never got that far. */
  images: RunRecord['images'];
  report: ScenarioReport;
}

async function recordedImage(docker: LabDocker, name: string): Promise<RecordedImage> {
  const info = await docker.inspectImage(name).catch(() => undefined);
  return { name, id: info?.id ?? null };
}

/** The ids of a run's images; call it right after `up`, before anything could retag them. */
export async function recordImages(docker: LabDocker, images: LabImages): Promise<NonNullable<RunRecord['images']>> {
  const [tracker, peer] = await Promise.all([
    recordedImage(docker, images.tracker),
    recordedImage(docker, images.peer),
  ]);
  return { tracker, peer };
}

export async function buildRunRecord(init: RunRecordInit): Promise<RunRecord> {
  const { images } = init;
  return {
    recordVersion: RUN_RECORD_VERSION,
    run: init.run,
    startedAt: new Date(init.startedAt).toISOString(),
    swarmlabVersion: SWARMLAB_VERSION,
    engine: init.engine,
    command: init.command,
    ...(init.source === undefined ? {} : { source: init.source }),
    ...(init.replayOf === undefined ? {} : { replayOf: init.replayOf }),
    scenario: init.scenario,
    seeds: init.seeds,
    ...(images === undefined ? {} : { images }),
    // The report has the enforcement the run used when its scenario had a network; else the host's choice.
    enforcement: init.report.network?.enforcement ?? (await hostEnforcement()),
  };
}
