/**
 * Waits for a compiled trigger on a live recorder: folds the events recorded so far, then re-evaluates on
 * each new one. The run's own event stream is the only input, so waiting costs no exec on any peer.
 */
import { abortReason, rejectOnAbort, throwIfAborted, withTimeout } from '../abort';
import { TriggerTimeoutError } from '../errors';
import type { RunEvent, RunRecorder } from '../observe/run-events';
import type { CompiledTrigger } from './compile';
import { createTriggerState, evaluateTrigger, observeEvent, type Verdict } from './evaluate';

export type Fired = Extract<Verdict, { fired: true }> & { event?: RunEvent };

/**
 * Resolves once `compiled` holds (at once if it holds already), with why and, for `holders`, the holder.
 * Rejects with TriggerTimeoutError after `withinS`, or with the signal's reason when `signal` aborts.
 */
export async function waitForTrigger(
  recorder: RunRecorder,
  compiled: CompiledTrigger,
  signal: AbortSignal,
): Promise<Fired> {
  const state = createTriggerState();
  for (const event of recorder.events) observeEvent(state, event);
  let verdict = evaluateTrigger(compiled.trigger, state);
  if (verdict.fired) return verdict;
  throwIfAborted(signal);

  // withTimeout's timer also keeps the process alive: once every exec stream has ended, a wait that
  // nothing else held open would let Node exit in the middle of the scenario, silently and with code 0.
  const { signal: both, clear } = withTimeout(signal, compiled.withinS * 1000);
  let unsubscribe = (): void => undefined;
  try {
    return await Promise.race([
      new Promise<Fired>((resolve) => {
        const stop = recorder.subscribe((event) => {
          if (!observeEvent(state, event)) return;
          verdict = evaluateTrigger(compiled.trigger, state);
          if (verdict.fired) {
            stop();
            resolve({ ...verdict, event });
          }
        });
        unsubscribe = () => void stop();
      }),
      rejectOnAbort(both, () => {
        if (!signal.aborted) {
          const now = verdict.fired ? '' : ` (now: ${verdict.now})`;
          return new TriggerTimeoutError(`"${compiled.description}" did not hold within ${compiled.withinS} s${now}`);
        }
        return abortReason(signal);
      }),
    ]);
  } finally {
    clear();
    unsubscribe();
  }
}
