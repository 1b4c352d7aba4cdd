/**
 * Writes run.json into a run folder and reads it back. Reading resolves what the user pointed at (a run
 * folder or its run.json), checks the record against RUN_RECORD_SCHEMA and its scenario against the
 * scenario schema, and fails with ERR_LAB_RUN_RECORD_MISSING or ERR_LAB_RUN_RECORD_INVALID (JSON pointers
 * into run.json) rather than replaying something half understood.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import Ajv from 'ajv';

import { RunRecordInvalidError, RunRecordMissingError, ScenarioInvalidError, type ScenarioIssue } from '../errors';
import { explainSchemaErrors, validateScenario } from '../scenario/load';
import { RUN_RECORD_FILE, RUN_RECORD_SCHEMA, type RunRecord } from './run-record';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateRecord = ajv.compile<RunRecord>(RUN_RECORD_SCHEMA);

/** A record read back, and the run folder it sits in. */
export interface ReadRunRecord {
  record: RunRecord;
  /** The run folder (absolute). */
  dir: string;
  /** run.json's path (absolute). */
  path: string;
}

/** Writes `record` as `<dir>/run.json`; returns its path. */
export async function writeRunRecord(dir: string, record: RunRecord): Promise<string> {
  const path = join(dir, RUN_RECORD_FILE);
  await writeFile(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

/** run.json's path for `target`, a run folder or the run.json in one. */
export async function runRecordPath(target: string): Promise<string> {
  const absolute = resolve(target);
  const info = await stat(absolute).catch(() => undefined);
  if (info === undefined) throw new RunRecordMissingError(target);
  return info.isDirectory() ? join(absolute, RUN_RECORD_FILE) : absolute;
}

/** Parses and validates run.json text; `path` names it in errors. */
export function parseRunRecord(text: string, path: string): RunRecord {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new RunRecordInvalidError(path, [{ instancePath: '', message: `not JSON: ${(err as Error).message}` }]);
  }
  if (!validateRecord(data))
    throw new RunRecordInvalidError(path, explainSchemaErrors(validateRecord.errors ?? [], data));
  try {
    validateScenario(data.scenario);
  } catch (err) {
    if (!(err instanceof ScenarioInvalidError)) throw err;
    const issues: ScenarioIssue[] = err.issues.map((issue) => ({
      ...issue,
      instancePath: `/scenario${issue.instancePath}`,
    }));
    throw new RunRecordInvalidError(path, issues);
  }
  return data;
}

/** Reads the record of a run folder (or of the run.json given). */
export async function readRunRecord(target: string): Promise<ReadRunRecord> {
  const path = await runRecordPath(target);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RunRecordMissingError(target, { cause: err });
  }
  return { record: parseRunRecord(text, path), dir: dirname(path), path };
}
