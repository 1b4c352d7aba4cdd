/**
 * The theoretical minimum distribution time of each downloaded file and how the run measured against it,
 * derived purely from the run's events (the report's "minimum" line and ratio).
 *
 * A peer's upload and download caps are the latest of its `rate` events (a rate step, the peer's own
 * rates) and its access link in the network's `initial` event (`network.peers`), whichever came last.
 */
import { happenedT } from './run-events';
import type { RunEvent } from './run-events';
import { foldRunEvents, type EventOf, type Lane } from './run-state';

export interface RatedPeer {
  peer: string;
  uploadBps: number;
  /** Its download cap, when it had one (a downloader's access link `down`, or its download rate). */
  downloadBps?: number;
}

/** The theoretical minimum distribution time of one file, or why there is none. */
export type MinimumTime =
  | {
      file: string;
      /** When the distribution started (see `downloadStartT`), ms since the recording started. */
      startT: number;
      fileBytes: number;
      seeders: RatedPeer[];
      downloaders: RatedPeer[];
      /** max(F/u_s, F/d_min, N·F/(u_s + Σu_i)) in ms (F/d_min only when a downloader's download is capped). */
      minMs: number;
      /** startT + minMs: where the line is drawn. */
      atT: number;
      /**
       * Once every downloader verified the file: how long the distribution took (from startT to the last
       * chunk's arrival) and its ratio to the minimum. The bound is for the last downloader; one that
       * started late or was served first may finish sooner.
       */
      measured?: { distributionMs: number; ratio: number };
    }
  | { file: string; startT?: number; note: string };

/**
 * The theoretical minimum time to distribute a file of `fileBytes` from seeders with a total upload of
 * `seederUploadBps` to N downloaders uploading `downloaderUploadBps` each (Kurose & Ross): the seeders
 * must send every byte at least once, the slowest downloader must receive every byte (`minDownloadBps`,
 * its download cap, when there is one), and the swarm must deliver N copies with everything it can upload.
 */
export function minimumDistributionMs(
  fileBytes: number,
  seederUploadBps: number,
  downloaderUploadBps: readonly number[],
  minDownloadBps?: number,
): number {
  if (!(seederUploadBps > 0)) throw new RangeError(`the seeders' upload must be > 0, got ${seederUploadBps}`);
  const n = downloaderUploadBps.length;
  const swarmBps = seederUploadBps + downloaderUploadBps.reduce((sum, bps) => sum + bps, 0);
  const downloadS = minDownloadBps !== undefined && minDownloadBps > 0 ? fileBytes / minDownloadBps : 0;
  return 1000 * Math.max(fileBytes / seederUploadBps, downloadS, (n * fileBytes) / swarmBps);
}

/**
 * The upload (or download) limit a peer had at time `t` (bytes/s): the latest `rate` event or access link
 * of a `network` event naming it; undefined when none was set (or it was lifted).
 */
export function uploadRateAt(
  events: readonly RunEvent[],
  peer: string,
  t: number,
  direction: 'up' | 'down' = 'up',
): number | undefined {
  let rate: number | null | undefined;
  for (const event of events) {
    if (event.t > t) break;
    if (event.type === 'rate' && event.peer === peer) {
      const bps = direction === 'up' ? event.uploadBps : event.downloadBps;
      if (bps !== undefined) rate = bps;
    } else if (event.type === 'network' && event.access !== undefined && Object.hasOwn(event.access, peer)) {
      const bps = event.access[peer]?.[direction];
      if (bps !== undefined) rate = bps;
    }
  }
  return rate ?? undefined;
}

/**
 * When the distribution of `file` started: when its first chunk was requested (a transfer's arrival minus
 * the time it took), but not before the download step that asked for it. The step alone would be too
 * early: on a loaded machine the `ctl download` it execs in each container can take seconds to start.
 */
export function downloadStartT(
  events: readonly RunEvent[],
  file: string,
  downloaders: ReadonlySet<string>,
): number | undefined {
  const first = events.find(
    (e) => (e.type === 'transfer' || e.type === 'progress' || e.type === 'download') && e.file === file,
  );
  if (first === undefined) return undefined;
  let stepT: number | undefined;
  for (const event of events) {
    if (event.seq >= first.seq) break;
    if (event.type === 'step' && event.action === 'download' && event.targets.some((p) => downloaders.has(p))) {
      stepT = event.t;
    }
  }
  const requestTs = events
    .filter((e): e is EventOf<'transfer'> => e.type === 'transfer' && e.file === file)
    .map((e) => happenedT(e) - (e.ms ?? 0));
  const requestT = requestTs.length === 0 ? undefined : Math.min(...requestTs);
  if (requestT === undefined) return stepT ?? first.t;
  return stepT === undefined ? requestT : Math.max(stepT, requestT);
}

/** The size of `file` as some event reports it. */
function fileSize(events: readonly RunEvent[], file: string): number | undefined {
  for (const event of events) {
    if (event.type === 'file' && event.file === file) return event.size;
    if (event.type === 'progress' && event.file === file && event.size !== undefined) return event.size;
    if (event.type === 'download' && event.file === file && event.ok && event.bytes !== undefined) return event.bytes;
  }
  return undefined;
}

function unsetNote(file: string, peers: readonly string[]): string {
  const who = peers.join(', ');
  return (
    `no minimum line for ${file}: the upload rate of ${who} is not set ` +
    `(the minimum needs every seeder's and downloader's upload: a rate step or the peer's uploadRate)`
  );
}

/**
 * The theoretical minimum distribution time of each downloaded file, where the rates allow it: u_s is the
 * total upload of the peers that held the file when its download started (its seeders), u_i the upload of
 * each downloader, N the number of downloaders, F the file's size.
 */
export function minimumTimes(
  events: readonly RunEvent[],
  lanes: readonly Lane[] = [...foldRunEvents(events).lanes.values()],
): MinimumTime[] {
  const files = [...new Set(lanes.map((lane) => lane.file))];
  return files.map((file): MinimumTime => {
    const downloaders = lanes.filter((lane) => lane.file === file).map((lane) => lane.peer);
    const startT = downloadStartT(events, file, new Set(downloaders));
    if (startT === undefined) return { file, note: `no minimum line for ${file}: its download never started` };
    const seeders = [
      ...new Set(
        events
          .filter((e): e is EventOf<'file'> => e.type === 'file' && e.file === file && e.t <= startT)
          .map((e) => e.peer)
          .filter((peer) => !downloaders.includes(peer)),
      ),
    ];
    if (seeders.length === 0) {
      return { file, startT, note: `no minimum line for ${file}: no peer held it when its download started` };
    }
    const fileBytes = fileSize(events, file);
    if (fileBytes === undefined) return { file, startT, note: `no minimum line for ${file}: its size is unknown` };
    const rated = (peer: string): { peer: string; uploadBps: number | undefined } => ({
      peer,
      uploadBps: uploadRateAt(events, peer, startT),
    });
    const seederRates = seeders.map(rated);
    const downloaderRates = downloaders.map(rated);
    const unset = [...seederRates, ...downloaderRates].filter((p) => p.uploadBps === undefined).map((p) => p.peer);
    if (unset.length > 0) return { file, startT, note: unsetNote(file, unset) };
    const asRated = (p: { peer: string; uploadBps: number | undefined }): RatedPeer => ({
      peer: p.peer,
      uploadBps: p.uploadBps ?? 0,
    });
    const seedersBps = seederRates.reduce((sum, p) => sum + (p.uploadBps ?? 0), 0);
    const downloadersRated = downloaderRates.map((p): RatedPeer => {
      const downloadBps = uploadRateAt(events, p.peer, startT, 'down');
      return { ...asRated(p), ...(downloadBps === undefined ? {} : { downloadBps }) };
    });
    const caps = downloadersRated.flatMap((p) => (p.downloadBps === undefined ? [] : [p.downloadBps]));
    const minMs = minimumDistributionMs(
      fileBytes,
      seedersBps,
      downloadersRated.map((p) => p.uploadBps),
      caps.length === 0 ? undefined : Math.min(...caps),
    );
    return {
      file,
      startT,
      fileBytes,
      seeders: seederRates.map(asRated),
      downloaders: downloadersRated,
      minMs,
      atT: startT + minMs,
      ...measuredDistribution(events, file, downloaders, startT, minMs),
    };
  });
}

/** How long the distribution of `file` took, once every downloader has verified it. */
function measuredDistribution(
  events: readonly RunEvent[],
  file: string,
  downloaders: readonly string[],
  startT: number,
  minMs: number,
): { measured?: { distributionMs: number; ratio: number } } {
  const verified = new Set(
    events
      .filter((e) => e.type === 'download' && e.file === file && e.ok && e.verified !== false)
      .map((e) => (e.type === 'download' ? e.peer : '')),
  );
  if (!downloaders.every((peer) => verified.has(peer))) return {};
  const lastT = events.reduce(
    (max, e) => (e.type === 'transfer' && e.file === file ? Math.max(max, e.t) : max),
    startT,
  );
  const distributionMs = lastT - startT;
  return { measured: { distributionMs, ratio: distributionMs / minMs } };
}
