/**
 * Resolves `--uploader default|tit-for-tat|PATH` to the policy a Choker applies (choker.ts), once, at
 * start. `default` is no policy at all: every request is served, as without the flag.
 *
 * PATH is a module exporting `choose(input)` (docs/strategies.md), always run isolated like a picker
 * module (sandbox.ts): no filesystem, no network, a time budget per round. It is checked before the
 * peer starts on a small constructed round; anything else is an `ERR_UPLOADER` error. At run time a
 * round whose call fails (a throw, an answer that is not a list of candidate ids, the budget) serves
 * everyone and is logged; MAX_UPLOADER_FAILURES in a row disable the module (everyone is served from
 * then on, logged once).
 */
import { resolve } from 'node:path';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { ChokerPolicy } from './choker';
import { PeerError, PeerErrorCode } from './errors';
import { PICKER_WARN_EVERY } from './pickers';
import { Sandbox } from './sandbox';
import type { ChooseAnswer } from './uploader-harness';
import { UPLOADER_HARNESS_SOURCE } from './uploader-harness';
import { isBuiltInUploader, UPLOADERS } from './upload-policy';
import type { UploadInput } from './upload-policy';

/** Time budget of one round's `choose`. */
export const UPLOADER_CALL_BUDGET_MS = 250;
export const MAX_UPLOADER_FAILURES = 3;

export interface LoadedUploader {
  /** `default`, `tit-for-tat`, or the module's absolute path. */
  name: string;
  /** undefined for `default`: no choking at all. */
  policy?: ChokerPolicy;
  custom: boolean;
  close?: () => Promise<void>;
}

export interface LoadUploaderInit {
  cwd?: string;
  logger: Logger;
}

/** The round a module is first called with: two requesters, one of which sent this peer bytes. */
export function probeRound(): UploadInput {
  const candidate = { receivedBytes: 0, receivedRecentBytes: 0, sentBytes: 0, sentRecentBytes: 0, unchoked: true };
  return {
    round: 0,
    intervalMs: 1_000,
    downloading: true,
    slots: 3,
    candidates: [
      { ...candidate, peer: 'peer-a', name: 'a', receivedBytes: 16_384, receivedRecentBytes: 16_384 },
      { ...candidate, peer: 'peer-b', name: 'b' },
    ],
  };
}

function uploaderError(spec: string, message: string): PeerError {
  return new PeerError(PeerErrorCode.Uploader, `--uploader ${spec}: ${message}`);
}

function parseChoose(answer: { output: string } | { failure: string }): ChooseAnswer {
  if ('failure' in answer) return { error: answer.failure };
  try {
    const parsed = JSON.parse(answer.output) as { serve?: unknown; error?: unknown };
    if (typeof parsed.error === 'string') return { error: parsed.error };
    if (Array.isArray(parsed.serve) && parsed.serve.every((peer) => typeof peer === 'string')) return { serve: parsed.serve as string[] };
    return { error: 'the answer is not a list of peer ids' };
  } catch (error) {
    return { error: `unreadable answer: ${errorMessage(error)}` };
  }
}

export async function loadUploader(spec: string, init: LoadUploaderInit): Promise<LoadedUploader> {
  if (spec === 'default') return { name: spec, custom: false };
  if (isBuiltInUploader(spec)) return { name: spec, policy: UPLOADERS[spec](), custom: false };
  const path = resolve(init.cwd ?? process.cwd(), spec);
  let sandbox: Sandbox;
  try {
    sandbox = await Sandbox.open({ path, harness: UPLOADER_HARNESS_SOURCE, name: 'swarmlab-uploader' });
  } catch (error) {
    const reason = errorMessage(error).split('\n')[0] ?? '';
    throw uploaderError(spec, /^exports no function/.test(reason) ? `${path} ${reason}` : `not default or tit-for-tat, and ${path} does not load: ${reason}`);
  }
  const probe = parseChoose(await sandbox.call(JSON.stringify(probeRound()), UPLOADER_CALL_BUDGET_MS));
  if ('error' in probe) {
    await sandbox.close();
    throw uploaderError(spec, `choose failed on a test round (requesters peer-a and peer-b): ${probe.error}`);
  }
  let failures = 0;
  let consecutive = 0;
  let disabled = false;
  const policy: ChokerPolicy = async (input) => {
    if (disabled) return undefined;
    const answer = parseChoose(await sandbox.call(JSON.stringify(input), UPLOADER_CALL_BUDGET_MS));
    if ('serve' in answer) {
      consecutive = 0;
      return answer.serve;
    }
    failures++;
    consecutive++;
    if (failures === 1 || failures % PICKER_WARN_EVERY === 0) {
      init.logger.warn('custom uploader failed; this round serves everyone', { uploader: path, reason: answer.error, failures });
    }
    if (consecutive >= MAX_UPLOADER_FAILURES) {
      disabled = true;
      init.logger.warn('custom uploader disabled after repeated failures; serving everyone from now on', { uploader: path, reason: answer.error, failures });
      void sandbox.close();
    }
    return undefined;
  };
  return { name: path, policy, custom: true, close: () => sandbox.close() };
}
