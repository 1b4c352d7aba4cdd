/** The checks of a step's `when:` that its JSON Schema cannot make, each issue with its JSON pointer. */
import type { ScenarioIssue } from '../errors';
import { conditionsOf, HOLDER_REF, TRIGGER_KINDS, type When } from './compile';

export interface WhenNames {
  /** The scenario's peers. */
  peers: ReadonlySet<string>;
  /** Files the scenario's steps generate or download: the files a condition can be about. */
  files: ReadonlySet<string>;
}

/**
 * Issues with `step` (at JSON pointer `at`): a `when` beside `at`/`after`, not exactly one condition,
 * unknown peers or files, and `peer: $holder` without a `holders` trigger.
 */
export function whenIssues(
  step: { when?: When; at?: number; after?: number; peer?: string; peers?: unknown },
  at: string,
  names: WhenNames,
): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  const when = step.when;
  const holderTarget = step.peer === HOLDER_REF;
  if (Array.isArray(step.peers) && step.peers.includes(HOLDER_REF)) {
    issues.push({ instancePath: `${at}/peers`, message: `"${HOLDER_REF}" goes in "peer", not in "peers"` });
  }
  if (when === undefined) {
    if (holderTarget)
      issues.push({ instancePath: `${at}/peer`, message: `"${HOLDER_REF}" needs a "when: {holders: ...}" trigger` });
    return issues;
  }
  for (const key of ['at', 'after'] as const) {
    if (step[key] !== undefined)
      issues.push({ instancePath: `${at}/when`, message: `"when" and "${key}" exclude each other` });
  }
  const kinds = conditionsOf(when);
  if (kinds.length !== 1) {
    issues.push({
      instancePath: `${at}/when`,
      message: `must have exactly one condition: ${TRIGGER_KINDS.join(', ')} (got ${kinds.length === 0 ? 'none' : kinds.join(', ')})`,
    });
  }
  if (holderTarget && when.holders === undefined) {
    issues.push({
      instancePath: `${at}/peer`,
      message: `"${HOLDER_REF}" needs a "holders" trigger (this step's is ${kinds.join(', ') || 'none'})`,
    });
  }
  const known = [...names.peers].join(', ');
  const checkPeer = (name: string, path: string): void => {
    if (!names.peers.has(name))
      issues.push({ instancePath: path, message: `unknown peer "${name}" (peers: ${known})` });
  };
  const checkFile = (file: string | undefined, path: string): void => {
    if (file === undefined || names.files.has(file)) return;
    const files = names.files.size === 0 ? 'none' : [...names.files].join(', ');
    issues.push({
      instancePath: path,
      message: `unknown file "${file}" (files the scenario generates or downloads: ${files})`,
    });
  };
  if (when.progress !== undefined) {
    checkPeer(when.progress.peer, `${at}/when/progress/peer`);
    checkFile(when.progress.file, `${at}/when/progress/file`);
  }
  if (when.holders !== undefined) checkFile(when.holders.file, `${at}/when/holders/file`);
  if (when.completed !== undefined) checkFile(when.completed.file, `${at}/when/completed/file`);
  if (when.transfers !== undefined) {
    checkPeer(when.transfers.from, `${at}/when/transfers/from`);
    checkFile(when.transfers.file, `${at}/when/transfers/file`);
  }
  return issues;
}
