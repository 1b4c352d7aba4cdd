/**
 * Steps that send a command to a peer's control socket (over its control channel, lab/control-channel.ts) or run a
 * shell command there: connect, publish, generate a file, set rates and served faults, fill the disk.
 */
import { DATA_DIR } from '../../constants';
import { AssertionFailedError } from '../../errors';
import { each, describeAction, onTargets, type StepHandler } from '../step-handler';
import {
  FILLER_FILE,
  type FaultsStep,
  type FillDiskStep,
  type FreeDiskStep,
  type GenerateStep,
  type RateStep,
  type SimpleControlStep,
} from '../schema';

/** Block size of the `fill-disk` filler (dd bs). */
const FILL_BLOCK_BYTES = 4096;

/** `connect`, `disconnect`: the peer joins or leaves the tracker. */
export const trackerLinkStep: StepHandler<SimpleControlStep> = {
  describe: describeAction,
  async run(step, targets, ctx, signal) {
    const command = step.action === 'connect' ? 'connect' : 'disconnect';
    await each(targets, async (name) => {
      await ctx.run.peer(name).control.request(command, {}, { signal });
    });
  },
};

export const publishStep: StepHandler<SimpleControlStep> = {
  describe: describeAction,
  async run(_step, targets, ctx, signal) {
    await each(targets, async (name) => {
      const result = await ctx.run.peer(name).control.request('upload', {}, { signal });
      const names = (result.published ?? []).map(
        (f) => `${f.name}${f.chunks === undefined ? '' : ` (${f.chunks} chunks)`}`,
      );
      ctx.printer.info(`${name} published ${names.join(', ') || 'nothing'}`);
      for (const f of result.published ?? []) {
        if (f.size === undefined) continue;
        ctx.recorder?.record({
          type: 'file',
          peer: name,
          file: f.name,
          size: f.size,
          ...(f.chunks === undefined ? {} : { chunks: f.chunks }),
        });
      }
    });
  },
};

/** `files` prints what the tracker lists; `status` whether the peer is connected and what it holds. */
export const queryStep: StepHandler<SimpleControlStep> = {
  describe: describeAction,
  async run(step, targets, ctx, signal) {
    await each(targets, async (name) => {
      const control = ctx.run.peer(name).control;
      if (step.action === 'files') ctx.printer.files(name, await control.request('files', {}, { signal }));
      else ctx.printer.peerStatus(name, await control.request('status', {}, { signal }));
    });
  },
};

/** Generates a file on each target and remembers its sha256, against which downloads are verified. */
export const generateStep: StepHandler<GenerateStep> = {
  describe: (step, targets) => `generate ${step.file} (${step.size} bytes) on${onTargets(targets)}`,
  async run(step, targets, ctx, signal) {
    await each(targets, async (name) => {
      const peer = ctx.run.peer(name);
      await peer.control.request(
        'generate',
        {
          name: step.file,
          size: step.size,
          ...(step.seed === undefined ? {} : { seed: step.seed }),
          text: step.text ?? true,
        },
        { signal },
      );
      const sha = await peer.control.sha256(`${DATA_DIR}/${step.file}`, signal);
      const known = ctx.expectedSha.get(step.file);
      if (known !== undefined && known !== sha) {
        throw new AssertionFailedError(
          `${name} generated ${step.file} with sha256 ${sha}, but another peer has ${known}`,
        );
      }
      ctx.expectedSha.set(step.file, sha);
      ctx.printer.info(`${name} generated ${step.file} (${step.size} bytes, sha256 ${sha.slice(0, 16)}...)`);
      ctx.recorder?.record({ type: 'file', peer: name, file: step.file, size: step.size });
    });
  },
};

export const rateStep: StepHandler<RateStep> = {
  describe: (step, targets) =>
    `rate${onTargets(targets)} upload=${step.upload ?? '-'} download=${step.download ?? '-'}`,
  async run(step, targets, ctx, signal) {
    await each(targets, async (name) => {
      await ctx.run.peer(name).control.request(
        'rate',
        {
          ...(step.upload === undefined ? {} : { upload: step.upload }),
          ...(step.download === undefined ? {} : { download: step.download }),
        },
        { signal },
      );
      ctx.recorder?.record({
        type: 'rate',
        peer: name,
        ...(step.upload === undefined ? {} : { uploadBps: step.upload }),
        ...(step.download === undefined ? {} : { downloadBps: step.download }),
      });
    });
  },
};

export const faultsStep: StepHandler<FaultsStep> = {
  describe: (step, targets) =>
    `faults${onTargets(targets)} corrupt=${step.corrupt ?? 0} drop=${step.drop ?? 0} delay=${step.delayMs ?? 0} ms`,
  async run(step, targets, ctx, signal) {
    await each(targets, async (name) => {
      const set = await ctx.run.peer(name).control.request(
        'faults',
        {
          ...(step.corrupt === undefined ? {} : { corrupt: step.corrupt }),
          ...(step.drop === undefined ? {} : { drop: step.drop }),
          ...(step.delayMs === undefined ? {} : { delayMs: step.delayMs }),
        },
        { signal },
      );
      ctx.printer.info(
        `${name} now serves with corrupt=${set.corruptRate} drop=${set.dropRate} delay=${set.delayMs} ms`,
      );
    });
  },
};

export const fillDiskStep: StepHandler<FillDiskStep> = {
  describe: (step, targets) => `fill-disk${onTargets(targets)} with ${step.bytes} bytes`,
  async run(step, targets, ctx, signal) {
    await each(targets, async (name) => {
      const control = ctx.run.peer(name).control;
      const blocks = Math.ceil(step.bytes / FILL_BLOCK_BYTES);
      await control.shell(
        ['dd', 'if=/dev/zero', `of=${DATA_DIR}/${FILLER_FILE}`, `bs=${FILL_BLOCK_BYTES}`, `count=${blocks}`],
        signal,
      );
      const df = await control.shell(['df', '-k', DATA_DIR], signal).catch(() => '');
      const freeKiB = /\s(\d+)\s+\d+%/.exec(df)?.[1];
      ctx.printer.info(
        `${name}: wrote ${blocks * FILL_BLOCK_BYTES} bytes to ${DATA_DIR}/${FILLER_FILE}` +
          `${freeKiB === undefined ? '' : `; ${freeKiB} KiB left`}`,
      );
    });
  },
};

export const freeDiskStep: StepHandler<FreeDiskStep> = {
  describe: describeAction,
  async run(_step, targets, ctx, signal) {
    await each(targets, async (name) => {
      await ctx.run.peer(name).control.shell(['rm', '-f', `${DATA_DIR}/${FILLER_FILE}`], signal);
      ctx.printer.info(`${name}: removed ${DATA_DIR}/${FILLER_FILE}`);
    });
  },
};
