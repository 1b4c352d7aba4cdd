/**
 * The `assert` step: checks on a peer's downloads, its files and status as the tracker and the peer see
 * them, its logs and its container state. With `withinSeconds` the checks are retried until they hold.
 * The whole logic of an assertion is here, `assertWithin` (when to retry) above `checkAssertion` (what holds).
 */
import { sleep } from '../../abort';
import { AssertionFailedError, ControlError, messageOf } from '../../errors';
import { createLogger } from '../../../src/shared/logger';
import { each, downloadKey, onTargets, type StepContext, type StepHandler } from '../step-handler';
import type { AssertStep } from '../schema';

const log = createLogger('scenario');

/** Pause between two tries of an assertion that does not hold yet. */
const ASSERT_RETRY_MS = 500;

export const assertStep: StepHandler<AssertStep> = {
  describe: (step, targets) => `assert on${onTargets(targets)}${step.file === undefined ? '' : ` ${step.file}`}`,
  run: (step, targets, ctx, signal) => each(targets, (name) => assertWithin(ctx, step, name, signal)),
};

/**
 * Checks an assertion, retrying it until it holds when the step has `withinSeconds`. A peer that answers
 * "not now" (its tracker link is down or reconnecting, a request on it was cut, or ctl got no answer on
 * the control socket) is retried like an assertion that does not hold yet: the step waits for a state,
 * and on a quiet host the runner reaches it before the peers have reconnected. When the time is up, the
 * last error is the step's.
 */
async function assertWithin(ctx: StepContext, step: AssertStep, name: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + (step.withinSeconds ?? 0) * 1000;
  for (;;) {
    try {
      await checkAssertion(ctx, step, name, signal);
      return;
    } catch (err) {
      const retryable = err instanceof AssertionFailedError || (err instanceof ControlError && err.transient);
      if (!retryable || signal.aborted || Date.now() >= deadline) throw err;
      log.debug('Assertion does not hold yet; retrying', { peer: name, error: messageOf(err) });
    }
    await sleep(ASSERT_RETRY_MS, signal);
  }
}

/** Makes every check of the step once; throws `AssertionFailedError` listing all that do not hold. */
async function checkAssertion(ctx: StepContext, step: AssertStep, name: string, signal: AbortSignal): Promise<void> {
  const failures: string[] = [];
  if (step.running !== undefined) {
    const container = await ctx.run.refresh(name);
    const running = container.state === 'running';
    if (running !== step.running)
      failures.push(`is ${container.state}, expected ${step.running ? 'running' : 'not running'}`);
  }
  const file = step.file;
  if (
    file !== undefined &&
    (step.verified !== undefined ||
      step.minSources !== undefined ||
      step.sourcesInclude !== undefined ||
      step.sourcesExclude !== undefined)
  ) {
    const report = ctx.downloads.get(downloadKey(name, file));
    if (report === undefined) {
      failures.push(`has no finished download of ${file}`);
    } else {
      if (step.verified !== undefined && report.verified !== step.verified) {
        failures.push(`${file} verified=${report.verified}, expected ${step.verified}`);
      }
      const sources = Object.entries(report.chunksBySource)
        .filter(([, n]) => n > 0)
        .map(([source]) => source);
      if (step.minSources !== undefined && sources.length < step.minSources) {
        failures.push(
          `${file} came from ${sources.length} source(s) (${sources.join(', ')}), expected at least ${step.minSources}`,
        );
      }
      for (const source of step.sourcesInclude ?? []) {
        if (!sources.includes(source))
          failures.push(`${file} got no chunk from ${source} (sources: ${sources.join(', ')})`);
      }
      for (const source of step.sourcesExclude ?? []) {
        if (sources.includes(source)) failures.push(`${file} got chunks from ${source}, expected none`);
      }
    }
  }
  if (step.listed !== undefined) {
    const result = await ctx.run.peer(name).control.request('files', {}, { signal });
    const names = new Set(result.files.map((f) => f.name));
    const missing = step.listed.filter((n) => !names.has(n));
    if (missing.length > 0) {
      const listed = [...names].join(', ') || 'nothing';
      failures.push(`files does not list ${missing.join(', ')} (it lists ${listed})`);
    } else {
      ctx.printer.files(name, result);
    }
  }
  if (step.holders !== undefined && file !== undefined) {
    const result = await ctx.run.peer(name).control.request('files', {}, { signal });
    const listed = result.files.filter((f) => f.name === file);
    const holders = listed.reduce((sum, f) => sum + (f.holders ?? 0), 0);
    if (holders !== step.holders) {
      failures.push(`files shows ${file} with ${holders} holder(s), expected ${step.holders}`);
    } else {
      ctx.printer.info(`${name}: the tracker lists ${file} with ${holders} holder(s)`);
    }
  }
  if (step.logged !== undefined) {
    const { combined } = await ctx.docker.logs(ctx.run.container(name).id);
    const missing = step.logged.filter((text) => !combined.includes(text));
    if (missing.length > 0) failures.push(`logs do not contain ${missing.map((t) => JSON.stringify(t)).join(', ')}`);
  }
  if (step.complete !== undefined && file !== undefined) {
    const status = await ctx.run.peer(name).control.request('status', {}, { signal });
    const held = (status.files ?? []).find((f) => f.name === file);
    const complete = held?.complete === true;
    if (complete !== step.complete) failures.push(`${file} complete=${complete}, expected ${step.complete}`);
  }
  if (failures.length > 0) throw new AssertionFailedError(`${name} ${failures.join('; ')}`);
  ctx.printer.info(`${name}: assertion holds`);
}
