/**
 * Cancellation for the lab: every wait takes an `AbortSignal`, and an aborted wait rejects with the
 * signal's reason turned into a lab error (a timeout stays a `TimeoutError`, anything else becomes an
 * `AbortedError`).
 */
import { AbortedError } from './errors';

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortReason(signal);
}

/** The error to raise for an aborted signal: a timeout stays a TimeoutError, anything else an AbortedError. */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return reason;
  return new AbortedError(reason instanceof Error ? reason.message : 'aborted');
}

/**
 * `signal`, or `ms` elapsed, whichever comes first: the timeout aborts with a TimeoutError, as
 * AbortSignal.timeout() does. Not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: Node 20 holds
 * the timeout signal inside it only weakly, so a garbage collection can drop it and the wait then never
 * times out (nodejs/node#57736). Here a timer holds the controller; `clear()` stops it once the wait is over.
 */
export function withTimeout(signal: AbortSignal | undefined, ms: number): { signal: AbortSignal; clear: () => void } {
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    ms,
  );
  return {
    signal: signal === undefined ? timeout.signal : AbortSignal.any([signal, timeout.signal]),
    clear: () => clearTimeout(timer),
  };
}

/** Sleeps, rejecting with `abortReason(signal)` when the signal fires. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  if (ms <= 0) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A promise that never resolves and rejects with `toError(signal)` once the signal fires: race it against
 * work that does not take a signal itself. Its rejection is marked handled, so an unraced one is harmless.
 */
export function rejectOnAbort(signal: AbortSignal, toError: (signal: AbortSignal) => unknown): Promise<never> {
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(toError(signal));
    else signal.addEventListener('abort', () => reject(toError(signal)), { once: true });
  });
  aborted.catch(() => undefined);
  return aborted;
}
