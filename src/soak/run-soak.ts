/**
 * `swarmlab soak [--minutes 10] [--peers 30] [--seed N] [--no-hostile]`: a tracker and N peer processes on 127.0.0.1
 * under churn for M minutes (schedule.ts), with one lying peer and two hostile clients (hostile-clients.ts),
 * then one JSON line on stdout:
 *
 *   {"soak":{"minutes","downloads","verified","corrupt","lost","trackerRssMB":{start,end,max},"peerRssMB":{...},"flat","errors":{...},...}}
 *
 * "downloads" counts the downloads that finished (the peer answered ok); "started" every download asked
 * for, "abandoned" those whose client hung up on purpose, "skippedBusy" the planned starts dropped while
 * MAX_CONCURRENT_DOWNLOADS were running. "errors" counts every failed action by its error code (e.g.
 * ERR_CONTROL_TIMEOUT for each abandoned download, ERR_CONTROL_CLOSED for a download whose peer was
 * killed). "trackerRssMB" follows the tracker process of the moment (it restarts); "peerRssMB" is, at
 * each sample, the largest VmRSS among the live peers. The peer p01 is never killed and is the target
 * of the hostile clients; p05 is the lying peer (--faults corrupt=1), holding a copy of every file.
 *
 * "verified" means: the soak itself read the downloaded file from the downloader's directory and the
 * publisher's file from the publisher's directory, and their SHA-256 are equal. Nothing a peer reports
 * about the bytes is trusted. A finished download whose file is missing, or a published file that
 * vanished or changed by the end, is "lost". The exit code is 1 when memory is not flat (verdict.ts),
 * a file is corrupt or lost, or a process exited without the soak killing it. Progress goes to stderr.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, isAbsolute } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { err, out } from '../cli/output';
import { callControl } from '../control/control-client';
import { ControlErrorCode } from '../control/errors';
import { errorMessage } from '../shared/errors';
import { freePort } from '../shared/free-port';
import { SoakErrorCode } from './errors';
import { helloFrame, interestedFrame, listFrame, NeverReader, Trickler } from './hostile-clients';
import { MIB, pickOne, planSoak, seededRandom, soakTiming } from './schedule';
import type { SoakAction } from './schedule';
import { SoakSwarm, rssMB } from './soak-swarm';
import type { SoakPeer } from './soak-swarm';
import { soakVerdict, summariseRss } from './verdict';
import type { PeerGrowth, RssSample } from './verdict';

export const DEFAULT_SOAK_MINUTES = 10;
export const DEFAULT_SOAK_PEERS = 30;
const MIN_SOAK_PEERS = 8;
const SAMPLE_EVERY_MS = 2_000;
/** Downloads running at once: a 2-core machine serves 30 processes, not 30 transfers. */
const MAX_CONCURRENT_DOWNLOADS = 6;
const DOWNLOAD_TIMEOUT_MS = 120_000;
/** After the last minute, downloads still running get this long to finish before they count as unfinished. */
const DRAIN_MS = 60_000;
const CONTROL_TIMEOUT_MS = 60_000;
const INITIAL_FILES_PER_PUBLISHER = 2;
const STABLE_PUBLISHER = 'p01';
const LIAR = 'p05';

interface CatalogueFile {
  name: string;
  fileId: string;
  /** The publisher's copy, and its SHA-256 as the soak read it when it was published. */
  path: string;
  sha256: string;
}

interface FinishedDownload {
  peer: string;
  path: string;
  file: CatalogueFile;
}

export interface SoakOptions {
  minutes: number;
  peers: number;
  seed: number;
  /** false (--no-hostile): no never-reading or trickling client, to tell their effect on memory from the churn's. */
  hostile: boolean;
  cliPath: string;
}

export function parseSoakArgs(args: string[]): Omit<SoakOptions, 'cliPath'> {
  const { values } = parseArgs({
    args,
    options: { minutes: { type: 'string' }, peers: { type: 'string' }, seed: { type: 'string' }, 'no-hostile': { type: 'boolean' } },
  });
  const minutes = Number(values.minutes ?? DEFAULT_SOAK_MINUTES);
  const peers = Number(values.peers ?? DEFAULT_SOAK_PEERS);
  const seed = Number(values.seed ?? Date.now() % 2 ** 31);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) throw new Error(`--minutes must be between 0 and 1440, not "${values.minutes}"`);
  if (!Number.isInteger(peers) || peers < MIN_SOAK_PEERS || peers > 200) throw new Error(`--peers must be a whole number from ${MIN_SOAK_PEERS} to 200, not "${values.peers}"`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a whole number, not "${values.seed}"`);
  return { minutes, peers, seed, hostile: values['no-hostile'] !== true };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : SoakErrorCode.Unknown;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

export async function runSoak(args: string[], init: { cliPath: string }): Promise<number> {
  const options = { ...parseSoakArgs(args), cliPath: init.cliPath };
  const root = await mkdtemp(join(tmpdir(), 'swarmlab-soak-'));
  const soak = new Soak(options, root, await freePort());
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    err('soak: interrupted, cleaning up');
    void soak.shutdown().finally(() => void rm(root, { recursive: true, force: true }).finally(() => process.exit(130)));
  };
  process.once('SIGINT', onSigint);
  try {
    const result = await soak.run();
    if (interrupted) return 130;
    out(JSON.stringify({ soak: result }));
    for (const failure of result.failures) err(`soak: FAIL ${failure}`);
    return result.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    await soak.shutdown();
    if (!interrupted) await rm(root, { recursive: true, force: true });
  }
}

class Soak {
  private readonly swarm: SoakSwarm;
  private readonly durationMs: number;
  private readonly errors: Record<string, number> = {};
  private readonly crashes: string[] = [];
  private readonly catalogue: CatalogueFile[] = [];
  /** "peer:fileId" pairs a peer holds or is fetching, so no download asks for what the peer has. */
  private readonly held = new Set<string>();
  private readonly finished: FinishedDownload[] = [];
  private readonly ready = new Set<string>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly trackerSamples: RssSample[] = [];
  private readonly peerSamples: RssSample[] = [];
  /** Per peer process ("name#pid"), for naming the one that grew. */
  private readonly perProcess = new Map<string, RssSample[]>();
  private readonly counts = { downloads: 0, verified: 0, corrupt: 0, lost: 0, started: 0, abandoned: 0, unfinished: 0, skippedBusy: 0, kills: 0, joins: 0, trackerRestarts: 0, published: 0 };
  private inFlight = 0;
  private fileCounter = 0;
  private t0 = 0;
  private ending = false;
  private stableDataPort = 0;
  private trackerUp = false;
  private joinNames: string[] = [];
  private readonly random: () => number;
  private readonly hostile: { neverReaderTracker?: NeverReader; neverReaderPeer?: NeverReader; tricklers: Trickler[] } = { tricklers: [] };
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    private readonly options: SoakOptions,
    private readonly root: string,
    trackerPort: number,
  ) {
    this.durationMs = options.minutes * 60_000;
    this.random = seededRandom(options.seed ^ 0x5eed);
    this.swarm = new SoakSwarm({ cliPath: options.cliPath, root, trackerPort, onCrash: (description) => this.onCrash(description) });
  }

  async run(): Promise<Record<string, unknown> & { ok: boolean; failures: string[] }> {
    const { peers, seed } = this.options;
    const joiners = Math.max(1, Math.round(peers / 5));
    const names = Array.from({ length: peers }, (_, i) => `p${String(i + 1).padStart(2, '0')}`);
    const initial = names.slice(0, peers - joiners);
    this.joinNames = names.slice(peers - joiners);
    const publishers = names.slice(0, Math.max(2, Math.round(peers / 8))).filter((name) => name !== LIAR);
    const plan = planSoak({ seed, durationMs: this.durationMs, joiners });
    const timing = soakTiming(this.durationMs);

    // Setup (not on the clock): the tracker, the first peers, the first files.
    const setupAtMs = Date.now();
    await this.swarm.startTracker();
    this.trackerUp = true;
    err(`soak: ${this.options.minutes} min, ${peers} peers, seed ${seed}, tracker on ${this.swarm.trackerAddress}, folder ${this.root}`);
    for (let i = 0; i < initial.length; i += 6) {
      await Promise.all(initial.slice(i, i + 6).map((name) => this.startPeer(name)));
    }
    for (const publisher of publishers) {
      for (let k = 0; k < INITIAL_FILES_PER_PUBLISHER; k++) await this.publish(publisher, Math.round((1 + this.random() * 7) * MIB));
    }
    const status = await callControl(this.swarm.peers.get(STABLE_PUBLISHER)!.socket, 'status', {}, { timeoutMs: CONTROL_TIMEOUT_MS });
    this.stableDataPort = Number((status.ok ? (status.result as Record<string, unknown>) : {})['dataPort']);
    if (this.options.hostile) this.startHostileClients();
    err(`soak: ${initial.length} peers up and ${this.catalogue.length} files published in ${Math.round((Date.now() - setupAtMs) / 1000)} s; the clock starts`);

    this.t0 = Date.now();
    const sampler = setInterval(() => void this.sample(), SAMPLE_EVERY_MS);
    const reporter = setInterval(() => this.progress(), 60_000);
    await this.sample();
    for (const action of plan) {
      const waitMs = this.t0 + action.atMs - Date.now();
      if (waitMs > 0) await sleep(waitMs);
      this.track(this.act(action, publishers));
    }
    const leftMs = this.t0 + this.durationMs - Date.now();
    if (leftMs > 0) await sleep(leftMs);
    await this.sample();
    clearInterval(sampler);
    clearInterval(reporter);
    this.ending = true;
    this.stopHostileClients();

    // Let running downloads and restarts finish, then check every file once more.
    const drainAtMs = Date.now();
    err(`soak: time is up; waiting for ${this.inFlight} downloads and ${this.pending.size} actions still running`);
    await Promise.race([Promise.allSettled([...this.pending]), sleep(DRAIN_MS, undefined, { ref: false })]);
    this.counts.unfinished = this.inFlight;
    await this.finalSweep();
    err(`soak: drained and swept in ${Math.round((Date.now() - drainAtMs) / 1000)} s`);

    const window = { warmupMs: timing.warmupMs, windowMs: timing.windowMs, endMs: this.durationMs };
    const trackerRss = summariseRss(this.trackerSamples, window);
    const peerRss = summariseRss(this.peerSamples, window);
    const growth: PeerGrowth[] = [...this.perProcess].map(([key, samples]) => ({ name: key, ...summariseRss(samples, window) }));
    const lived = growth.filter((g) => g.start > 0 && g.end > 0);
    const verdict = soakVerdict({ ...this.counts, crashes: this.crashes }, trackerRss, peerRss, lived);
    return {
      minutes: this.options.minutes,
      peers,
      seed,
      downloads: this.counts.downloads,
      verified: this.counts.verified,
      corrupt: this.counts.corrupt,
      lost: this.counts.lost,
      started: this.counts.started,
      abandoned: this.counts.abandoned,
      unfinished: this.counts.unfinished,
      skippedBusy: this.counts.skippedBusy,
      published: this.counts.published,
      peerKills: this.counts.kills,
      joins: this.counts.joins,
      trackerRestarts: this.counts.trackerRestarts,
      trackerRssMB: trackerRss,
      peerRssMB: peerRss,
      flat: verdict.flat,
      crashes: this.crashes,
      errors: this.errors,
      hostile: {
        neverReaderTracker: this.hostile.neverReaderTracker?.stats,
        neverReaderPeer: this.hostile.neverReaderPeer?.stats,
        tricklers: this.hostile.tricklers.map((t) => t.stats),
      },
      ok: verdict.ok,
      failures: verdict.failures,
    };
  }

  shutdown(): Promise<void> {
    this.ending = true;
    this.shutdownPromise ??= (async () => {
      this.stopHostileClients();
      await this.swarm.stop();
    })();
    return this.shutdownPromise;
  }

  private track<T>(work: Promise<T>): void {
    const tracked = work.catch((error: unknown) => this.count(codeOf(error), error)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private count(code: string, error?: unknown): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    if (process.env['SWARMLAB_SOAK_VERBOSE'] && error !== undefined) err(`soak: ${code}: ${errorMessage(error)}`);
  }

  private onCrash(description: string): void {
    const atS = this.t0 ? Math.round((Date.now() - this.t0) / 1000) : 0;
    this.crashes.push(`${description} at ${atS} s`);
    const name = description.split(' ')[0] ?? '';
    err(`soak: CRASH ${description}`);
    void this.swarm.logTail(name).then((tail) => tail && err(tail));
    if (this.ending) return;
    // Keep the soak going: a crashed process comes back, and the crash fails the run at the end.
    if (name === 'tracker') {
      this.trackerUp = false;
      this.track(sleep(1_000).then(() => this.swarm.startTracker()).then(() => void (this.trackerUp = true)));
    } else {
      this.ready.delete(name);
      this.track(sleep(1_000).then(() => this.startPeer(name)));
    }
  }

  private async startPeer(name: string): Promise<SoakPeer> {
    const peer = await this.swarm.startPeer(name, name === LIAR ? ['--faults', 'corrupt=1'] : []);
    this.ready.add(name);
    return peer;
  }

  private livePeers(filter: (name: string) => boolean): SoakPeer[] {
    return [...this.swarm.peers.values()].filter((peer) => this.ready.has(peer.name) && filter(peer.name)).sort((a, b) => a.name.localeCompare(b.name));
  }

  private async act(action: SoakAction, publishers: string[]): Promise<void> {
    switch (action.kind) {
      case 'download':
        return this.download(action.pick, action.filePick, action.abandonAfterMs);
      case 'kill-peer': {
        const victim = pickOne(
          this.livePeers((name) => name !== STABLE_PUBLISHER && name !== LIAR),
          action.pick,
        );
        if (!victim) return;
        this.ready.delete(victim.name);
        this.counts.kills++;
        await this.swarm.killPeer(victim.name, 'SIGKILL');
        await sleep(action.downMs);
        if (!this.ending) await this.startPeer(victim.name);
        return;
      }
      case 'join-peer': {
        const name = this.joinNames.shift();
        if (!name) return;
        this.counts.joins++;
        await this.startPeer(name);
        return;
      }
      case 'publish': {
        const publisher = pickOne(
          this.livePeers((name) => publishers.includes(name)),
          action.pick,
        );
        if (publisher) await this.publish(publisher.name, action.sizeBytes);
        return;
      }
      case 'restart-tracker': {
        this.trackerUp = false;
        this.counts.trackerRestarts++;
        await this.swarm.stopTracker(action.signal);
        await sleep(action.downMs);
        await this.swarm.startTracker();
        this.trackerUp = true;
        return;
      }
      default: {
        const unreachable: never = action;
        throw new Error(`unknown action ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private async control(peer: string, cmd: 'generate' | 'upload', args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const socket = this.swarm.peers.get(peer)?.socket;
    if (!socket) throw Object.assign(new Error(`${peer} is down`), { code: SoakErrorCode.PeerDown });
    const response = await callControl(socket, cmd, args, { timeoutMs: CONTROL_TIMEOUT_MS });
    if (!response.ok) throw Object.assign(new Error(`${peer} ${cmd}: ${response.error.message}`), { code: response.error.code });
    return response.result as Record<string, unknown>;
  }

  /** A new file at `publisher`, the same bytes at the liar, both published. */
  private async publish(publisher: string, sizeBytes: number): Promise<void> {
    const n = ++this.fileCounter;
    const name = `f${String(n).padStart(4, '0')}.bin`;
    const seed = `soak-${this.options.seed}-${n}`;
    await this.control(publisher, 'generate', { name, size: sizeBytes, seed });
    const uploaded = await this.control(publisher, 'upload');
    const published = (uploaded['published'] as Array<{ name: string; fileId: string }>).find((file) => file.name === name);
    if (!published) throw Object.assign(new Error(`${publisher} did not publish ${name}`), { code: SoakErrorCode.NotPublished });
    const path = join(this.root, publisher, name);
    const file: CatalogueFile = { name, fileId: published.fileId, path, sha256: await sha256File(path) };
    this.catalogue.push(file);
    this.held.add(`${publisher}:${file.fileId}`);
    this.counts.published++;
    if (this.ready.has(LIAR)) {
      await this.control(LIAR, 'generate', { name, size: sizeBytes, seed });
      await this.control(LIAR, 'upload');
    }
  }

  private async download(pick: number, filePick: number, abandonAfterMs: number | undefined): Promise<void> {
    if (this.inFlight >= MAX_CONCURRENT_DOWNLOADS) {
      this.counts.skippedBusy++;
      return;
    }
    const peer = pickOne(
      this.livePeers((name) => name !== LIAR),
      pick,
    );
    if (!peer) return;
    const file = pickOne(
      this.catalogue.filter((f) => !this.held.has(`${peer.name}:${f.fileId}`)),
      filePick,
    );
    if (!file) return;
    const key = `${peer.name}:${file.fileId}`;
    this.held.add(key);
    this.inFlight++;
    this.counts.started++;
    try {
      const response = await callControl(peer.socket, 'download', { fileId: file.fileId, chunkEvents: false }, { timeoutMs: abandonAfterMs ?? DOWNLOAD_TIMEOUT_MS });
      if (!response.ok) {
        this.held.delete(key);
        this.count(response.error.code);
        return;
      }
      this.counts.downloads++;
      await this.verify(peer, String((response.result as Record<string, unknown>)['path']), file);
    } catch (error) {
      this.held.delete(key);
      const code = codeOf(error);
      if (code === ControlErrorCode.Timeout) {
        if (abandonAfterMs !== undefined) this.counts.abandoned++;
        this.count(abandonAfterMs !== undefined ? code : SoakErrorCode.DownloadTimeout);
      } else this.count(code);
    } finally {
      this.inFlight--;
    }
  }

  /** The downloaded bytes on disk against the publisher's, both read here. */
  private async verify(peer: SoakPeer, path: string, file: CatalogueFile): Promise<void> {
    const inside = relative(peer.dir, path);
    if (!isAbsolute(path) || inside.startsWith('..') || isAbsolute(inside)) {
      this.count(SoakErrorCode.PathOutside);
      this.counts.lost++;
      return;
    }
    this.finished.push({ peer: peer.name, path, file });
    const outcome = await this.compare(path, file);
    this.counts[outcome]++;
    if (outcome !== 'verified') err(`soak: ${outcome} download of ${file.name} at ${peer.name} (${path})`);
  }

  private async compare(path: string, file: CatalogueFile): Promise<'verified' | 'corrupt' | 'lost'> {
    let downloaded: string;
    let original: string;
    try {
      [downloaded, original] = await Promise.all([sha256File(path), sha256File(file.path)]);
    } catch (error) {
      this.count(`SOAK_MISSING_${codeOf(error)}`);
      return 'lost';
    }
    return downloaded === original && original === file.sha256 ? 'verified' : 'corrupt';
  }

  /** Every finished download and every published file must still be there, with the same bytes. */
  private async finalSweep(): Promise<void> {
    for (const done of this.finished) {
      try {
        if ((await sha256File(done.path)) !== done.file.sha256) {
          this.counts.corrupt++;
          err(`soak: ${done.path} changed after it was verified`);
        }
      } catch {
        this.counts.lost++;
        err(`soak: ${done.path} (downloaded by ${done.peer}) vanished`);
      }
    }
    for (const file of this.catalogue) {
      try {
        if ((await sha256File(file.path)) !== file.sha256) {
          this.counts.corrupt++;
          err(`soak: the published ${file.path} changed`);
        }
      } catch {
        this.counts.lost++;
        err(`soak: the published ${file.path} vanished`);
      }
    }
  }

  private startHostileClients(): void {
    const tracker = (): { host: string; port: number } | undefined => (this.trackerUp ? { host: '127.0.0.1', port: Number(this.swarm.trackerAddress.split(':')[1]) } : undefined);
    const peer = (): { host: string; port: number } | undefined => (this.ready.has(STABLE_PUBLISHER) && this.stableDataPort > 0 ? { host: '127.0.0.1', port: this.stableDataPort } : undefined);
    const heldFile = this.catalogue.find((file) => file.path.includes(`/${STABLE_PUBLISHER}/`));
    this.hostile.neverReaderTracker = new NeverReader(tracker, { repeat: listFrame, burst: 10, everyMs: 200 });
    if (heldFile) {
      const interested = interestedFrame(heldFile.fileId);
      this.hostile.neverReaderPeer = new NeverReader(peer, { opening: () => helloFrame('never-reader'), repeat: () => interested, burst: 50, everyMs: 100 });
    }
    for (const target of [tracker, peer]) {
      for (let i = 0; i < 4; i++) this.hostile.tricklers.push(new Trickler(target, { frameBytes: 4 * MIB, burstBytes: 512 * 1024, everyMs: 1_000 }));
    }
    this.hostile.neverReaderTracker.start();
    this.hostile.neverReaderPeer?.start();
    for (const trickler of this.hostile.tricklers) trickler.start();
  }

  private stopHostileClients(): void {
    this.hostile.neverReaderTracker?.stop();
    this.hostile.neverReaderPeer?.stop();
    for (const trickler of this.hostile.tricklers) trickler.stop();
  }

  private async sample(): Promise<void> {
    if (this.ending) return;
    const atMs = Date.now() - this.t0;
    const trackerRss = await rssMB(this.swarm.tracker?.child.pid);
    if (trackerRss !== undefined) this.trackerSamples.push({ atMs, rssMB: trackerRss });
    let largest = 0;
    for (const peer of this.swarm.peers.values()) {
      const rss = await rssMB(peer.child.pid);
      if (rss === undefined) continue;
      largest = Math.max(largest, rss);
      const key = `${peer.name}#${peer.child.pid}`;
      const series = this.perProcess.get(key) ?? [];
      series.push({ atMs, rssMB: rss });
      this.perProcess.set(key, series);
    }
    if (largest > 0) this.peerSamples.push({ atMs, rssMB: largest });
  }

  private progress(): void {
    const minute = Math.round((Date.now() - this.t0) / 60_000);
    const last = (samples: RssSample[]): number => round1(samples[samples.length - 1]?.rssMB ?? 0);
    err(
      `soak: ${minute}/${this.options.minutes} min, ${this.counts.downloads} downloads (${this.counts.verified} verified), ` +
        `${this.swarm.peers.size} peers up, tracker ${last(this.trackerSamples)} MB, largest peer ${last(this.peerSamples)} MB`,
    );
  }
}
