/**
 * Replays a validated scenario against a started run.
 *
 * Steps run in order; a step with several targets acts on them concurrently (two `download`s on
 * `peers: [peer-3, peer-4]` run at the same time). A `download` with `wait: false` runs in the background
 * until a `wait` step (or the end of the scenario). The first failing step stops the scenario; the
 * caller tears the run down. Every download is verified inside its container: `sha256sum` of the
 * downloaded file against `sha256sum` of the file where a `generate` step created it.
 */
import { setMaxListeners } from 'node:events';

import { createLogger } from '../src/shared/logger';
import {
  AbortedError,
  AssertionFailedError,
  ControlError,
  LabError,
  LabTimeoutError,
  StepFailedError,
  messageOf,
} from './errors';
import { DATA_DIR, sleep, type LabRun } from './controller';
import { isChunkEvent, isProgressEvent, type ControlEvent, type DownloadResult } from './peer-control';
import type { DownloadReport, Printer } from './print';
import { scenarioPeers, stepTargets, TRACKER_NAME } from './scenario';
import {
  FILLER_FILE,
  type AssertStep,
  type DownloadStep,
  type Scenario,
  type ScenarioPeer,
  type ScenarioStep,
} from './scenario-schema';
import type { LabContainer, LabDocker } from './lab-docker';
import type { RunEventBody, RunRecorder } from './observe/run-events';

const log = createLogger('scenario');

export const DEFAULT_SCENARIO_TIMEOUT_S = 300;
export const DEFAULT_STEP_TIMEOUT_S = 120;
const ASSERT_RETRY_MS = 500;
/**
 * The peer's error codes that mean "not now" rather than "no" (src/peer/tracker-client.ts, the framed
 * connection): its tracker link is down and reconnecting, or a request on it was cut or went unanswered.
 */
const TRANSIENT_PEER_CODES: ReadonlySet<string> = new Set([
  'ERR_TRACKER_UNAVAILABLE',
  'ERR_TRACKER_UNREACHABLE',
  'ERR_CONNECTION_CLOSED',
  'ERR_REQUEST_TIMEOUT',
]);
/** Listeners allowed on a scenario's or a step's abort signal: a few per targeted peer. */
const SIGNAL_LISTENERS = 4 * 64;
/** Block size of the `fill-disk` filler (dd bs). */
const FILL_BLOCK_BYTES = 4096;

export interface StepReport {
  index: number;
  action: string;
  targets: string[];
  ok: boolean;
  startedAtMs: number;
  ms: number;
  error?: string;
}

export interface ScenarioReport {
  scenario: string;
  ok: boolean;
  ms: number;
  error?: { code: string; message: string };
  steps: StepReport[];
  downloads: DownloadReport[];
  /** The step marked `fault: true`, once it started: its index, action and start (ms from the scenario start). */
  fault?: { index: number; action: string; atMs: number };
  /**
   * Time to recover: from the fault step's start to the end of the last download that finished after it
   * and verified, in ms. Undefined without a fault step or without such a download.
   */
  recoverMs?: number;
}

export interface ScenarioRunnerComponents {
  run: LabRun;
  docker: LabDocker;
  printer: Printer;
  /** Waits until a restarted container is ready again. */
  waitReady?: (run: LabRun, name: string, signal: AbortSignal) => Promise<void>;
  /** Receives the run's events (steps, nodes, transfers, progress, downloads) for the dashboard and report. */
  recorder?: RunRecorder;
}

export interface ScenarioRunnerInit {
  signal?: AbortSignal;
  /** Print a line per received chunk (default true). */
  printChunks?: boolean;
}

interface PendingDownload {
  peer: string;
  file: string;
  promise: Promise<void>;
}

export class ScenarioRunner {
  private readonly run: LabRun;
  private readonly docker: LabDocker;
  private readonly printer: Printer;
  private readonly recorder: RunRecorder | undefined;
  private readonly waitReadyFn: ((run: LabRun, name: string, signal: AbortSignal) => Promise<void>) | undefined;
  private readonly scenario: Scenario;
  private readonly peers: ScenarioPeer[];
  private readonly outerSignal: AbortSignal | undefined;
  private readonly printChunks: boolean;
  /** sha256 of each generated file, computed with sha256sum where it was generated. */
  private readonly expectedSha = new Map<string, string>();
  /** The latest download report per `peer\0file`. */
  private readonly downloads = new Map<string, DownloadReport>();
  private readonly pending: PendingDownload[] = [];
  /** The scenario-level signal (without a step's timeout), for background downloads. */
  private scenarioSignal: AbortSignal | undefined;
  private startedAtMs = Date.now();
  private fault: ScenarioReport['fault'];

  constructor(components: ScenarioRunnerComponents, scenario: Scenario, init: ScenarioRunnerInit = {}) {
    this.run = components.run;
    this.docker = components.docker;
    this.printer = components.printer;
    this.recorder = components.recorder;
    this.waitReadyFn = components.waitReady;
    this.scenario = scenario;
    this.peers = scenarioPeers(scenario);
    this.outerSignal = init.signal;
    this.printChunks = init.printChunks ?? true;
  }

  /** Runs every step; never throws for a failing step (the report says what failed), only for bugs. */
  async replay(): Promise<ScenarioReport> {
    const startedAtMs = Date.now();
    this.startedAtMs = startedAtMs;
    const timeoutS = this.scenario.timeoutSeconds ?? DEFAULT_SCENARIO_TIMEOUT_S;
    const signals = [
      AbortSignal.timeout(timeoutS * 1000),
      ...(this.outerSignal === undefined ? [] : [this.outerSignal]),
    ];
    const signal = AbortSignal.any(signals);
    // Every peer a step targets listens on these signals (up to 64 peers, plus background downloads).
    setMaxListeners(SIGNAL_LISTENERS, signal);
    this.scenarioSignal = signal;
    const steps: StepReport[] = [];
    let failure: LabError | undefined;
    const total = this.scenario.steps.length;

    for (const [index, step] of this.scenario.steps.entries()) {
      const targets = stepTargets(step, this.peers);
      try {
        if (step.at !== undefined) await sleep(startedAtMs + step.at * 1000 - Date.now(), signal);
        if (step.after !== undefined) await sleep(step.after * 1000, signal);
      } catch (err) {
        failure = this.abortError(err, signal, timeoutS);
        break;
      }
      const stepStartedAtMs = Date.now();
      if ('fault' in step && step.fault === true) {
        this.fault = { index, action: step.action, atMs: stepStartedAtMs - startedAtMs };
      }
      const description = `${describeStep(step, targets)}${this.fault?.index === index ? ' [fault]' : ''}`;
      this.printer.step(index, total, description, step.note);
      this.recorder?.record({
        type: 'step',
        index,
        total,
        action: step.action,
        targets,
        description: describeStep(step, targets),
        fault: this.fault?.index === index,
      });
      try {
        await this.executeStep(step, targets, signal);
        steps.push({
          index,
          action: step.action,
          targets,
          ok: true,
          startedAtMs: stepStartedAtMs - startedAtMs,
          ms: Date.now() - stepStartedAtMs,
        });
        this.recorder?.record({ type: 'step-end', index, ok: true, ms: Date.now() - stepStartedAtMs });
      } catch (err) {
        const error = signal.aborted
          ? this.abortError(err, signal, timeoutS)
          : new StepFailedError(index, step.action, err);
        steps.push({
          index,
          action: step.action,
          targets,
          ok: false,
          startedAtMs: stepStartedAtMs - startedAtMs,
          ms: Date.now() - stepStartedAtMs,
          error: error.message,
        });
        this.printer.stepFailed(index, messageOf(err));
        this.recorder?.record({
          type: 'step-end',
          index,
          ok: false,
          ms: Date.now() - stepStartedAtMs,
          error: error.message,
        });
        failure = error;
        break;
      }
    }

    if (failure === undefined && this.pending.length > 0) {
      try {
        await this.waitPending(undefined, undefined, signal);
      } catch (err) {
        failure = signal.aborted ? this.abortError(err, signal, timeoutS) : asLabError(err);
      }
    }

    const report: ScenarioReport = {
      scenario: this.scenario.name,
      ok: failure === undefined,
      ms: Date.now() - startedAtMs,
      steps,
      downloads: [...this.downloads.values()],
      ...(failure === undefined ? {} : { error: { code: failure.code, message: failure.message } }),
      ...(this.fault === undefined ? {} : { fault: this.fault }),
      ...recoveryOf(this.fault, [...this.downloads.values()]),
    };
    log.info('Scenario finished', { scenario: this.scenario.name, ok: report.ok, ms: report.ms });
    return report;
  }

  private abortError(err: unknown, signal: AbortSignal, timeoutS: number): LabError {
    const reason: unknown = signal.reason;
    if (reason instanceof Error && reason.name === 'TimeoutError') {
      return new LabTimeoutError(`scenario ${this.scenario.name} did not finish within ${timeoutS} s`);
    }
    if (reason instanceof Error) return new AbortedError(reason.message);
    if (err instanceof AbortedError) return err;
    return new AbortedError(`scenario ${this.scenario.name} interrupted`);
  }

  private async executeStep(step: ScenarioStep, targets: string[], outer: AbortSignal): Promise<void> {
    const stepTimeoutS =
      'timeoutSeconds' in step && step.timeoutSeconds !== undefined ? step.timeoutSeconds : DEFAULT_STEP_TIMEOUT_S;
    const signal = AbortSignal.any([outer, AbortSignal.timeout(stepTimeoutS * 1000)]);
    setMaxListeners(SIGNAL_LISTENERS, signal);
    try {
      await this.dispatch(step, targets, signal);
    } catch (err) {
      if (!outer.aborted && signal.aborted) throw new LabTimeoutError(`step did not finish within ${stepTimeoutS} s`);
      throw err;
    }
  }

  private async dispatch(step: ScenarioStep, targets: string[], signal: AbortSignal): Promise<void> {
    switch (step.action) {
      case 'sleep':
        await sleep(step.seconds * 1000, signal);
        return;
      case 'start':
        await each(targets, async (name) => {
          await this.docker.start(this.run.container(name).id);
          if (this.waitReadyFn !== undefined) await this.waitReadyFn(this.run, name, signal);
          await this.refreshNode(name);
        });
        return;
      case 'stop':
        await each(targets, async (name) => {
          await this.docker.stop(this.run.container(name).id);
          await this.refreshNode(name);
        });
        return;
      case 'kill':
        await each(targets, async (name) => {
          await this.docker.kill(this.run.container(name).id);
          await this.refreshNode(name);
        });
        return;
      case 'pause':
        await each(targets, async (name) => {
          await this.docker.pause(this.run.container(name).id);
          await this.refreshNode(name);
        });
        return;
      case 'unpause':
        await each(targets, async (name) => {
          await this.docker.unpause(this.run.container(name).id);
          await this.refreshNode(name);
        });
        return;
      case 'disconnect-network':
        await each(targets, async (name) => {
          await this.docker.disconnectNetwork(this.networkId(), this.run.container(name).id);
          await this.refreshNode(name);
        });
        return;
      case 'connect-network':
        await each(targets, async (name) => {
          const aliases = name === TRACKER_NAME ? [TRACKER_NAME] : [name];
          await this.docker.connectNetwork(this.networkId(), this.run.container(name).id, aliases);
          const fresh = await this.refreshNode(name);
          this.printer.info(`${name} is back on the network at ${fresh.ip ?? '?'}`);
        });
        return;
      case 'connect':
        await each(targets, async (name) => {
          await this.run.peer(name).control.request('connect', {}, { signal });
        });
        return;
      case 'disconnect':
        await each(targets, async (name) => {
          await this.run.peer(name).control.request('disconnect', {}, { signal });
        });
        return;
      case 'publish':
        await each(targets, async (name) => {
          const result = await this.run.peer(name).control.request('upload', {}, { signal });
          const names = (result.published ?? []).map(
            (f) => `${f.name}${f.chunks === undefined ? '' : ` (${f.chunks} chunks)`}`,
          );
          this.printer.info(`${name} published ${names.join(', ') || 'nothing'}`);
          for (const f of result.published ?? []) {
            if (f.size === undefined) continue;
            this.recorder?.record({
              type: 'file',
              peer: name,
              file: f.name,
              size: f.size,
              ...(f.chunks === undefined ? {} : { chunks: f.chunks }),
            });
          }
        });
        return;
      case 'files':
        await each(targets, async (name) => {
          this.printer.files(name, await this.run.peer(name).control.request('files', {}, { signal }));
        });
        return;
      case 'status':
        await each(targets, async (name) => {
          this.printer.peerStatus(name, await this.run.peer(name).control.request('status', {}, { signal }));
        });
        return;
      case 'generate':
        await each(targets, async (name) => {
          const peer = this.run.peer(name);
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
          const known = this.expectedSha.get(step.file);
          if (known !== undefined && known !== sha) {
            throw new AssertionFailedError(
              `${name} generated ${step.file} with sha256 ${sha}, but another peer has ${known}`,
            );
          }
          this.expectedSha.set(step.file, sha);
          this.printer.info(`${name} generated ${step.file} (${step.size} bytes, sha256 ${sha.slice(0, 16)}...)`);
          this.recorder?.record({ type: 'file', peer: name, file: step.file, size: step.size });
        });
        return;
      case 'rate':
        await each(targets, async (name) => {
          await this.run.peer(name).control.request(
            'rate',
            {
              ...(step.upload === undefined ? {} : { upload: step.upload }),
              ...(step.download === undefined ? {} : { download: step.download }),
            },
            { signal },
          );
          this.recorder?.record({
            type: 'rate',
            peer: name,
            ...(step.upload === undefined ? {} : { uploadBps: step.upload }),
            ...(step.download === undefined ? {} : { downloadBps: step.download }),
          });
        });
        return;
      case 'faults':
        await each(targets, async (name) => {
          const set = await this.run.peer(name).control.request(
            'faults',
            {
              ...(step.corrupt === undefined ? {} : { corrupt: step.corrupt }),
              ...(step.drop === undefined ? {} : { drop: step.drop }),
              ...(step.delayMs === undefined ? {} : { delayMs: step.delayMs }),
            },
            { signal },
          );
          this.printer.info(
            `${name} now serves with corrupt=${set.corruptRate} drop=${set.dropRate} delay=${set.delayMs} ms`,
          );
        });
        return;
      case 'fill-disk':
        await each(targets, async (name) => {
          const control = this.run.peer(name).control;
          const blocks = Math.ceil(step.bytes / FILL_BLOCK_BYTES);
          await control.shell(
            ['dd', 'if=/dev/zero', `of=${DATA_DIR}/${FILLER_FILE}`, `bs=${FILL_BLOCK_BYTES}`, `count=${blocks}`],
            signal,
          );
          const df = await control.shell(['df', '-k', DATA_DIR], signal).catch(() => '');
          const freeKiB = /\s(\d+)\s+\d+%/.exec(df)?.[1];
          this.printer.info(
            `${name}: wrote ${blocks * FILL_BLOCK_BYTES} bytes to ${DATA_DIR}/${FILLER_FILE}` +
              `${freeKiB === undefined ? '' : `; ${freeKiB} KiB left`}`,
          );
        });
        return;
      case 'free-disk':
        await each(targets, async (name) => {
          await this.run.peer(name).control.shell(['rm', '-f', `${DATA_DIR}/${FILLER_FILE}`], signal);
          this.printer.info(`${name}: removed ${DATA_DIR}/${FILLER_FILE}`);
        });
        return;
      case 'download':
        await this.download(step, targets, signal);
        return;
      case 'wait':
        await this.waitPending(targets.length === 0 ? undefined : targets, step.file, signal);
        return;
      case 'assert':
        await each(targets, (name) => this.assertWithin(step, name, signal));
        return;
      default: {
        const unreachable: never = step;
        throw new LabError('ERR_LAB_STEP_FAILED', `unknown action ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /** Re-reads a container after a state change and records where it now stands. */
  private async refreshNode(name: string): Promise<LabContainer> {
    const fresh = await this.run.refresh(name);
    this.recorder?.record(nodeEvent(name, fresh));
    return fresh;
  }

  /** Turns a downloader's control-socket events into run events. */
  private recordControlEvent(peer: string, file: string, event: ControlEvent): void {
    if (this.recorder === undefined) return;
    if (isChunkEvent(event)) {
      this.recorder.record({
        type: 'transfer',
        file: event.file,
        index: event.index,
        chunks: event.chunks,
        from: event.from,
        to: peer,
        bytes: event.bytes,
        ...(event.ms === undefined ? {} : { ms: event.ms }),
      });
    } else if (isProgressEvent(event)) {
      this.recorder.record({
        type: 'progress',
        peer,
        file,
        have: event.have,
        chunks: event.chunks,
        ...(event.bytes === undefined ? {} : { bytes: event.bytes }),
        ...(event.size === undefined ? {} : { size: event.size }),
        ...(event.rateBps === undefined ? {} : { rateBps: event.rateBps }),
      });
    }
  }

  private networkId(): string {
    if (this.run.network === undefined) throw new LabError('ERR_LAB_RUN_NOT_FOUND', 'the run has no network');
    return this.run.network.id;
  }

  private async download(step: DownloadStep, targets: string[], signal: AbortSignal): Promise<void> {
    const wait = step.wait ?? true;
    // A background download outlives its step, so it is bounded only by the scenario's signal.
    const downloadSignal = wait ? signal : (this.scenarioSignal ?? signal);
    const started = targets.map((name) => {
      let markBegun: () => void = () => undefined;
      const begun = new Promise<void>((resolve) => (markBegun = resolve));
      const promise = this.downloadOne(name, step, downloadSignal, markBegun);
      void promise.then(markBegun, markBegun);
      return { peer: name, file: step.file, promise, begun };
    });
    if (wait) {
      await each(started, (d) => d.promise);
      return;
    }
    for (const d of started) {
      d.promise.catch(() => undefined); // observed by `wait`; avoid an unhandled rejection meanwhile
      this.pending.push(d);
    }
    // A background download's step ends once its first chunk arrived (or it ended), not when the exec was
    // merely issued: on a loaded host `ctl download` can take seconds to start, and a following
    // `after: 2` fault must land in the middle of the transfer, not before it.
    await Promise.race([
      Promise.all(started.map((d) => d.begun)),
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    ]);
  }

  private async downloadOne(
    name: string,
    step: DownloadStep,
    signal: AbortSignal,
    onFirstChunk: () => void = () => undefined,
  ): Promise<void> {
    const peer = this.run.peer(name);
    const to = { name, ip: (await this.run.refresh(name)).ip };
    let result: DownloadResult;
    try {
      result = await peer.control.request(
        'download',
        { name: step.file },
        {
          signal,
          onEvent: (event) => {
            if (isChunkEvent(event)) onFirstChunk();
            if (this.printChunks && isChunkEvent(event)) this.printer.chunk(to, event);
            this.recordControlEvent(name, step.file, event);
          },
        },
      );
    } catch (err) {
      const expected = step.expectFailure === true || step.expectError !== undefined;
      if (expected && !signal.aborted) {
        const code = err instanceof ControlError ? err.peerCode : undefined;
        if (step.expectError !== undefined && code !== step.expectError) {
          throw new AssertionFailedError(
            `${name}: download of ${step.file} failed with ${code ?? 'no error code'}, expected ${step.expectError}: ${messageOf(err)}`,
          );
        }
        this.printer.info(`${name}: download of ${step.file} failed as expected: ${messageOf(err)}`);
        this.recorder?.record({ type: 'download', peer: name, file: step.file, ok: false, error: messageOf(err) });
        return;
      }
      this.recorder?.record({ type: 'download', peer: name, file: step.file, ok: false, error: messageOf(err) });
      throw err;
    }
    const finishedAtMs = Date.now();
    if (step.expectFailure === true || step.expectError !== undefined) {
      throw new AssertionFailedError(`${name}: download of ${step.file} succeeded but was expected to fail`);
    }
    const path = result.path ?? `${DATA_DIR}/${step.file}`;
    const sha256 = await peer.control.sha256(path, signal);
    const bytes = await peer.control.fileSize(path, signal);
    const expected = this.expectedSha.get(step.file);
    const verified =
      expected === undefined ? result.verified === true && result.sha256 === sha256 : expected === sha256;
    const report: DownloadReport = {
      peer: name,
      file: step.file,
      bytes,
      sha256,
      verified,
      chunksBySource: result.chunksBySource ?? {},
      ...(result.ms === undefined ? {} : { ms: result.ms }),
      finishedAtMs: finishedAtMs - this.startedAtMs,
      ...(result.keptChunks === undefined || result.keptChunks === 0 ? {} : { keptChunks: result.keptChunks }),
    };
    this.downloads.set(`${name}\u0000${step.file}`, report);
    this.recorder?.record({
      type: 'download',
      peer: name,
      file: step.file,
      ok: true,
      verified,
      bytes,
      ...(result.ms === undefined ? {} : { ms: result.ms }),
      chunksBySource: report.chunksBySource,
    });
    const kept = report.keptChunks === undefined ? '' : ` (resumed: ${report.keptChunks} chunk(s) kept from before)`;
    this.printer.info(
      `${name} finished ${step.file}: ${bytes} bytes, sha256 ${sha256.slice(0, 16)}..., verified ${verified ? 'yes' : 'NO'}${kept}`,
    );
  }

  private async waitPending(peers: string[] | undefined, file: string | undefined, signal: AbortSignal): Promise<void> {
    const matching = this.pending.filter(
      (d) => (peers === undefined || peers.includes(d.peer)) && (file === undefined || d.file === file),
    );
    for (const d of matching) this.pending.splice(this.pending.indexOf(d), 1);
    const abort = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(new AbortedError());
      signal.addEventListener('abort', () => reject(new AbortedError()), { once: true });
    });
    abort.catch(() => undefined);
    await Promise.race([each(matching, (d) => d.promise), abort]);
  }

  /**
   * Checks an assertion, retrying it until it holds when the step has `withinSeconds`. A peer that answers
   * "not now" (its tracker link is down or reconnecting, a request on it was cut, or ctl got no answer on
   * the control socket) is retried like an assertion that does not hold yet: the step waits for a state,
   * and on a quiet host the runner reaches it before the peers have reconnected. When the time is up, the
   * last error is the step's.
   */
  private async assertWithin(step: AssertStep, name: string, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + (step.withinSeconds ?? 0) * 1000;
    for (;;) {
      try {
        await this.assert(step, name, signal);
        return;
      } catch (err) {
        const retryable =
          err instanceof AssertionFailedError ||
          (err instanceof ControlError && (err.peerCode === undefined || TRANSIENT_PEER_CODES.has(err.peerCode)));
        if (!retryable || signal.aborted || Date.now() >= deadline) throw err;
        log.debug('Assertion does not hold yet; retrying', { peer: name, error: messageOf(err) });
      }
      await sleep(ASSERT_RETRY_MS, signal);
    }
  }

  private async assert(step: AssertStep, name: string, signal: AbortSignal): Promise<void> {
    const failures: string[] = [];
    if (step.running !== undefined) {
      const container = await this.run.refresh(name);
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
      const report = this.downloads.get(`${name}\u0000${file}`);
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
      const result = await this.run.peer(name).control.request('files', {}, { signal });
      const names = new Set(result.files.map((f) => f.name));
      const missing = step.listed.filter((n) => !names.has(n));
      if (missing.length > 0) {
        const listed = [...names].join(', ') || 'nothing';
        failures.push(`files does not list ${missing.join(', ')} (it lists ${listed})`);
      } else {
        this.printer.files(name, result);
      }
    }
    if (step.holders !== undefined && file !== undefined) {
      const result = await this.run.peer(name).control.request('files', {}, { signal });
      const listed = result.files.filter((f) => f.name === file);
      const holders = listed.reduce((sum, f) => sum + (f.holders ?? 0), 0);
      if (holders !== step.holders) {
        failures.push(`files shows ${file} with ${holders} holder(s), expected ${step.holders}`);
      } else {
        this.printer.info(`${name}: the tracker lists ${file} with ${holders} holder(s)`);
      }
    }
    if (step.logged !== undefined) {
      const { combined } = await this.docker.logs(this.run.container(name).id);
      const missing = step.logged.filter((text) => !combined.includes(text));
      if (missing.length > 0) failures.push(`logs do not contain ${missing.map((t) => JSON.stringify(t)).join(', ')}`);
    }
    if (step.complete !== undefined && file !== undefined) {
      const status = await this.run.peer(name).control.request('status', {}, { signal });
      const held = (status.files ?? []).find((f) => f.name === file);
      const complete = held?.complete === true;
      if (complete !== step.complete) failures.push(`${file} complete=${complete}, expected ${step.complete}`);
    }
    if (failures.length > 0) throw new AssertionFailedError(`${name} ${failures.join('; ')}`);
    this.printer.info(`${name}: assertion holds`);
  }
}

/** Runs `fn` on every item concurrently; waits for all, then throws the first error. */
async function each<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  const results = await Promise.allSettled(items.map((item) => fn(item)));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}

/** The download that ends the recovery: the last one that finished, verified, after the fault step started. */
export function recoveryDownload(
  fault: ScenarioReport['fault'],
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
function recoveryOf(
  fault: ScenarioReport['fault'],
  downloads: readonly DownloadReport[],
): Pick<ScenarioReport, 'recoverMs'> {
  const end = recoveryDownload(fault, downloads)?.finishedAtMs;
  return fault === undefined || end === undefined ? {} : { recoverMs: end - fault.atMs };
}

function asLabError(err: unknown): LabError {
  return err instanceof LabError ? err : new LabError('ERR_LAB_STEP_FAILED', messageOf(err));
}

function describeStep(step: ScenarioStep, targets: string[]): string {
  const on = targets.length === 0 ? '' : ` ${targets.join(', ')}`;
  switch (step.action) {
    case 'generate':
      return `generate ${step.file} (${step.size} bytes) on${on}`;
    case 'download':
      return `download ${step.file} on${on}${step.wait === false ? ' (background)' : ''}`;
    case 'wait':
      return `wait for downloads${on}${step.file === undefined ? '' : ` of ${step.file}`}`;
    case 'sleep':
      return `sleep ${step.seconds} s`;
    case 'rate':
      return `rate${on} upload=${step.upload ?? '-'} download=${step.download ?? '-'}`;
    case 'faults':
      return `faults${on} corrupt=${step.corrupt ?? 0} drop=${step.drop ?? 0} delay=${step.delayMs ?? 0} ms`;
    case 'fill-disk':
      return `fill-disk${on} with ${step.bytes} bytes`;
    case 'assert':
      return `assert on${on}${step.file === undefined ? '' : ` ${step.file}`}`;
    default:
      return `${step.action}${on}`;
  }
}

/** A `node` run event for a container as just inspected. */
export function nodeEvent(name: string, container: LabContainer): RunEventBody {
  const state = container.state === 'running' && container.ip === undefined ? 'disconnected' : container.state;
  return {
    type: 'node',
    name,
    role: container.role ?? (name === TRACKER_NAME ? 'tracker' : 'peer'),
    ...(container.ip === undefined ? {} : { ip: container.ip }),
    state,
  };
}
