/**
 * `npm run lab -- diff RUN_A RUN_B [--json]`: reads both run folders (run.json, and report.json when it is
 * there) and prints what differed (diff.ts, diff-text.ts). Exit 0 when it could compare, whatever differed.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { REPORT_JSON_FILE } from '../observe/report-writer';
import type { Printer } from '../print';
import { diffRuns, type RunReportJson, type RunSide } from './diff';
import { renderDiff } from './diff-text';
import { readRunRecord } from './record-io';

/** A run folder's record and report; a missing or unreadable report.json leaves `report` undefined. */
export async function readRunSide(target: string): Promise<RunSide> {
  const { record, dir } = await readRunRecord(target);
  let report: RunReportJson | undefined;
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, REPORT_JSON_FILE), 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) report = parsed as RunReportJson;
  } catch {
    report = undefined;
  }
  return { label: dir, record, report };
}

export async function diffCommand(
  printer: Printer,
  runA: string,
  runB: string,
  options: { json?: boolean } = {},
): Promise<number> {
  const [a, b] = await Promise.all([readRunSide(runA), readRunSide(runB)]);
  const diff = diffRuns(a, b);
  if (options.json === true) printer.json({ diff });
  else for (const line of renderDiff(diff)) printer.line(line);
  return 0;
}
