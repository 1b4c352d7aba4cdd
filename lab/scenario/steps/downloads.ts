/**
 * Downloads and waiting for them. Every download is verified inside its container: `sha256sum` of the
 * downloaded file against `sha256sum` of the file where a `generate` step created it. A download with
 * `wait: false` runs in the background until a `wait` step (or the end of the scenario) collects it.
 */
import { rejectOnAbort } from '../../abort';
import { DATA_DIR } from '../../constants';
import { AbortedError, AssertionFailedError, ControlError, messageOf } from '../../errors';
import { isChunkEvent, isProgressEvent, type ControlEvent, type DownloadResult } from '../../peer-control';
import type { DownloadReport } from '../../report-types';
import { each, downloadKey, onTargets, type StepContext, type StepHandler } from '../step-handler';
import type { DownloadStep, WaitStep } from '../schema';

export const downloadStep: StepHandler<DownloadStep> = {
  describe: (step, targets) =>
    `download ${step.file} on${onTargets(targets)}${step.wait === false ? ' (background)' : ''}`,
  async run(step, targets, ctx, signal) {
    const wait = step.wait ?? true;
    // A background download outlives its step, so it is bounded only by the scenario's signal.
    const downloadSignal = wait ? signal : ctx.scenarioSignal;
    const started = targets.map((name) => {
      let markBegun: () => void = () => undefined;
      const begun = new Promise<void>((resolve) => (markBegun = resolve));
      const promise = downloadOne(ctx, name, step, downloadSignal, markBegun);
      void promise.then(markBegun, markBegun);
      return { peer: name, file: step.file, promise, begun };
    });
    if (wait) {
      await each(started, (d) => d.promise);
      return;
    }
    for (const d of started) {
      d.promise.catch(() => undefined); // observed by `wait`; avoid an unhandled rejection meanwhile
      ctx.pending.push(d);
    }
    // A background download's step ends once its first chunk arrived (or it ended), not when the exec was
    // merely issued: on a loaded host `ctl download` can take seconds to start, and a following
    // `after: 2` fault must land in the middle of the transfer, not before it.
    await Promise.race([Promise.all(started.map((d) => d.begun)), rejectOnAbort(signal, (aborted) => aborted.reason)]);
  },
};

export const waitStep: StepHandler<WaitStep> = {
  describe: (step, targets) =>
    `wait for downloads${onTargets(targets)}${step.file === undefined ? '' : ` of ${step.file}`}`,
  run: (step, targets, ctx, signal) => waitPending(ctx, targets.length === 0 ? undefined : targets, step.file, signal),
};

/** Waits for the background downloads of `peers` (all when undefined) and of `file` (any when undefined). */
export async function waitPending(
  ctx: StepContext,
  peers: readonly string[] | undefined,
  file: string | undefined,
  signal: AbortSignal,
): Promise<void> {
  const matching = ctx.pending.filter(
    (d) => (peers === undefined || peers.includes(d.peer)) && (file === undefined || d.file === file),
  );
  for (const d of matching) ctx.pending.splice(ctx.pending.indexOf(d), 1);
  await Promise.race([each(matching, (d) => d.promise), rejectOnAbort(signal, () => new AbortedError())]);
}

async function downloadOne(
  ctx: StepContext,
  name: string,
  step: DownloadStep,
  signal: AbortSignal,
  onFirstChunk: () => void,
): Promise<void> {
  const peer = ctx.run.peer(name);
  const to = { name, ip: (await ctx.run.refresh(name)).ip };
  const { summary } = ctx;
  summary?.start(name, step.file);
  let result: DownloadResult;
  try {
    result = await peer.control.request(
      'download',
      // Where a `generate` step made the file, the copy is checked against its sha256sum below, on the
      // bytes on disk: the peer's own whole-file digest would only delay the answer (every peer reading
      // its whole file back at once, at the end of a big run) to report what the lab checks anyway.
      { name: step.file, ...(ctx.expectedSha.has(step.file) ? { digest: false } : {}) },
      {
        signal,
        onEvent: (event) => {
          if (isChunkEvent(event)) {
            onFirstChunk();
            if (ctx.printChunks) ctx.printer.chunk(to, event);
            summary?.chunk(name, event);
          } else if (isProgressEvent(event)) {
            summary?.progress(name, step.file, event);
          }
          recordControlEvent(ctx, name, step.file, event);
        },
      },
    );
  } catch (err) {
    const expected = step.expectFailure === true || step.expectError !== undefined;
    if (summary !== undefined) {
      summary.fail(name, step.file);
      // The summary only counts failures; why each one failed is worth a line of its own.
      if (!expected && !signal.aborted) ctx.printer.info(`${name}: download of ${step.file} failed: ${messageOf(err)}`);
    }
    if (expected && !signal.aborted) {
      const code = err instanceof ControlError ? err.peerCode : undefined;
      if (step.expectError !== undefined && code !== step.expectError) {
        throw new AssertionFailedError(
          `${name}: download of ${step.file} failed with ${code ?? 'no error code'}, expected ${step.expectError}: ${messageOf(err)}`,
        );
      }
      ctx.printer.info(`${name}: download of ${step.file} failed as expected: ${messageOf(err)}`);
      ctx.recorder?.record({ type: 'download', peer: name, file: step.file, ok: false, error: messageOf(err) });
      return;
    }
    ctx.recorder?.record({ type: 'download', peer: name, file: step.file, ok: false, error: messageOf(err) });
    throw err;
  }
  const finishedAtMs = Date.now();
  if (step.expectFailure === true || step.expectError !== undefined) {
    throw new AssertionFailedError(`${name}: download of ${step.file} succeeded but was expected to fail`);
  }
  const path = result.path ?? `${DATA_DIR}/${step.file}`;
  const sha256 = await peer.control.sha256(path, signal);
  const bytes = await peer.control.fileSize(path, signal);
  const expected = ctx.expectedSha.get(step.file);
  const verified = expected === undefined ? result.verified === true && result.sha256 === sha256 : expected === sha256;
  const report: DownloadReport = {
    peer: name,
    file: step.file,
    bytes,
    sha256,
    verified,
    chunksBySource: result.chunksBySource ?? {},
    ...(result.ms === undefined ? {} : { ms: result.ms }),
    finishedAtMs: finishedAtMs - ctx.startedAtMs,
    ...(result.keptChunks === undefined || result.keptChunks === 0 ? {} : { keptChunks: result.keptChunks }),
  };
  ctx.downloads.set(downloadKey(name, step.file), report);
  ctx.recorder?.record({
    type: 'download',
    peer: name,
    file: step.file,
    ok: true,
    verified,
    bytes,
    ...(result.ms === undefined ? {} : { ms: result.ms }),
    chunksBySource: report.chunksBySource,
  });
  summary?.finish(name, step.file, verified);
  // The summary counts finished peers; a copy that did not verify is printed all the same.
  if (summary !== undefined && verified) return;
  const kept = report.keptChunks === undefined ? '' : ` (resumed: ${report.keptChunks} chunk(s) kept from before)`;
  ctx.printer.info(
    `${name} finished ${step.file}: ${bytes} bytes, sha256 ${sha256.slice(0, 16)}..., verified ${verified ? 'yes' : 'NO'}${kept}`,
  );
}

/** Turns a downloader's control-socket events into run events. */
function recordControlEvent(ctx: StepContext, peer: string, file: string, event: ControlEvent): void {
  if (ctx.recorder === undefined) return;
  if (isChunkEvent(event)) {
    ctx.recorder.record({
      type: 'transfer',
      file: event.file,
      index: event.index,
      chunks: event.chunks,
      from: event.from,
      to: peer,
      bytes: event.bytes,
      ...(event.ms === undefined ? {} : { ms: event.ms }),
      ...(typeof event.at === 'number' ? { peerAt: event.at } : {}),
    });
  } else if (isProgressEvent(event)) {
    ctx.recorder.record({
      type: 'progress',
      peer,
      file,
      have: event.have,
      chunks: event.chunks,
      ...(event.bytes === undefined ? {} : { bytes: event.bytes }),
      ...(event.size === undefined ? {} : { size: event.size }),
      ...(event.rateBps === undefined ? {} : { rateBps: event.rateBps }),
      ...(typeof event.at === 'number' ? { peerAt: event.at } : {}),
    });
  }
}
