/**
 * Writes a run's report directory: `<reportDir>/<run>-<UTC timestamp>/` with `events.jsonl` (one RunEvent
 * per line), `report.json` (the ScenarioReport plus the derived data) and `report.html` (self-contained).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { ScenarioReport } from '../report-types';
import { deriveReportData, type ReportData } from './report-data';
import { renderReportHtml } from './report-html';
import type { RunEvent } from './run-events';

export const EVENTS_FILE = 'events.jsonl';
export const REPORT_JSON_FILE = 'report.json';
export const REPORT_HTML_FILE = 'report.html';

/** Two runs of the same name within the same second get `-2`, `-3`... rather than overwriting each other. */
const MAX_SAME_SECOND_RUNS = 100;

export interface WriteRunReportInit {
  /** The parent directory (lab/runs by default); created if missing. */
  reportDir: string;
  run: string;
  events: readonly RunEvent[];
  report: ScenarioReport;
  /** Wall clock of the recording's start (RunRecorder.startedAt). */
  startedAt: number;
}

export interface WrittenReport {
  dir: string;
  html: string;
  events: string;
  json: string;
  data: ReportData;
}

/** `20261125T233500Z`: sortable, and safe in a file name on every system. */
export function utcStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** `<run>-<UTC timestamp>`, the run name reduced to characters safe in a path. */
export function reportDirName(run: string, startedAt: Date): string {
  const safe = run.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '') || 'run';
  return `${safe}-${utcStamp(startedAt)}`;
}

/** Creates `<parent>/<name>`, or `<name>-2`, `-3`... when it exists; returns the path. */
export async function createFreshDir(parent: string, name: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  for (let attempt = 1; attempt <= MAX_SAME_SECOND_RUNS; attempt += 1) {
    const dir = join(parent, attempt === 1 ? name : `${name}-${attempt}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`${join(parent, name)} and ${MAX_SAME_SECOND_RUNS - 1} numbered variants already exist`);
}

export async function writeRunReport(init: WriteRunReportInit): Promise<WrittenReport> {
  const data = deriveReportData(init.events, init.report, { run: init.run, startedAt: init.startedAt });
  const dir = await createFreshDir(init.reportDir, reportDirName(init.run, new Date(init.startedAt)));
  const paths = {
    events: join(dir, EVENTS_FILE),
    json: join(dir, REPORT_JSON_FILE),
    html: join(dir, REPORT_HTML_FILE),
  };
  // The report already holds the downloads, steps and network; the derived data need not repeat them.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { downloads, steps, network, ...derived } = data;
  await writeFile(paths.events, init.events.map((event) => `${JSON.stringify(event)}\n`).join(''));
  await writeFile(paths.json, `${JSON.stringify({ ...init.report, run: init.run, derived }, null, 2)}\n`);
  await writeFile(paths.html, renderReportHtml(data));
  return { dir, ...paths, data };
}
