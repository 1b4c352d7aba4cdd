/** Time to recover from a scenario's fault step, derived from the downloads that finished after it. */
import type { DownloadReport, FaultMark, ScenarioReport } from '../report-types';

/** The download that ends the recovery: the last one that finished, verified, after the fault step started. */
export function recoveryDownload(
  fault: FaultMark | undefined,
  downloads: readonly DownloadReport[],
): DownloadReport | undefined {
  if (fault === undefined) return undefined;
  let last: DownloadReport | undefined;
  for (const d of downloads) {
    if (!d.verified || d.finishedAtMs === undefined || d.finishedAtMs < fault.atMs) continue;
    if (last === undefined || d.finishedAtMs > (last.finishedAtMs ?? 0)) last = d;
  }
  return last;
}

/** `recoverMs`: from the fault step's start to the end of `recoveryDownload`. */
export function recoveryOf(
  fault: FaultMark | undefined,
  downloads: readonly DownloadReport[],
): Pick<ScenarioReport, 'recoverMs'> {
  const end = recoveryDownload(fault, downloads)?.finishedAtMs;
  return fault === undefined || end === undefined ? {} : { recoverMs: end - fault.atMs };
}
