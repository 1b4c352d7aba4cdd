/**
 * One downloader's line in a demo's summary, and in its `--json` record
 * (`{"downloads":[DownloadSummary, ...]}`): the same shape for the local demo and the lab.
 */
export interface DownloadSummary {
  peer: string;
  file: string;
  bytes: number;
  sha256: string;
  verified: boolean;
  chunksBySource: Record<string, number>;
}
