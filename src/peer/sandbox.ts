/**
 * Runs a student's module isolated (sandbox-thread.ts): in a worker thread, in a `vm` context without
 * `require`, `process`, `import()` or `fetch`, with a heap limit, and with a time budget per call.
 *
 * One call at a time: the thread is single-threaded anyway, and a call's budget then starts when the
 * thread starts it, so a call stuck behind a slow one is not charged for it. A call answers either
 * the harness's output string or a failure reason; it never rejects and never waits past its budget
 * plus SANDBOX_GRACE_MS: a thread that does not answer by then (a loop the `vm` timeout cannot reach,
 * an exhausted heap) is terminated and a new one evaluates the module again for the next call.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { errorMessage } from '../shared/errors';
import { SANDBOX_THREAD_SOURCE } from './sandbox-thread';
import type { SandboxThreadData, SandboxThreadReply, SandboxThreadRequest } from './sandbox-thread';

/** Past its budget, how long a call waits for the thread's own timeout before the thread is replaced. */
export const SANDBOX_GRACE_MS = 1_000;
/** Budget of the module's top-level code. */
export const SANDBOX_LOAD_BUDGET_MS = 2_000;
/** Heap of the thread: a module that allocates without end fails its call, not the peer. */
export const SANDBOX_HEAP_MB = 64;

export type SandboxAnswer = { output: string } | { failure: string };

export interface SandboxInit {
  /** The module's absolute path (read here, on the event loop's side). */
  path: string;
  /** See SandboxThreadData.harness. */
  harness: string;
  /** Thread name, for diagnostics. */
  name: string;
}

interface PendingCall {
  input: string;
  budgetMs: number;
  settle: (answer: SandboxAnswer) => void;
}

/** Whether the source is an ES module: by extension, or (for `.js`) by its `import`/`export` statements. */
export function looksLikeEsm(path: string, source: string): boolean {
  const extension = extname(path);
  if (extension === '.mjs') return true;
  if (extension === '.cjs') return false;
  return /^\s*(export\s|import\s)/m.test(source) && !/\bmodule\.exports\b|\bexports\.\w/.test(source);
}

export class Sandbox {
  private worker: Worker | undefined;
  private readonly queue: PendingCall[] = [];
  private current: { call: number; pending: PendingCall; timer: NodeJS.Timeout } | undefined;
  private nextCall = 1;
  private closed = false;
  private starting = false;

  private constructor(private readonly data: SandboxThreadData) {}

  /** Reads and evaluates the module; rejects with the reason it does not load (syntax, a throw, no export). */
  static async open(init: SandboxInit): Promise<Sandbox> {
    const source = await readFile(init.path, 'utf8');
    const sandbox = new Sandbox({
      source,
      filename: init.path,
      esm: looksLikeEsm(init.path, source),
      harness: init.harness,
      loadBudgetMs: SANDBOX_LOAD_BUDGET_MS,
    });
    const loadError = await sandbox.start();
    if (loadError !== undefined) {
      await sandbox.close();
      throw new Error(loadError);
    }
    return sandbox;
  }

  /** Runs the harness on `input` within `budgetMs`. */
  call(input: string, budgetMs: number): Promise<SandboxAnswer> {
    if (this.closed) return Promise.resolve({ failure: 'the sandbox is closed' });
    return new Promise((settle) => {
      this.queue.push({ input, budgetMs, settle });
      this.next();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.settle({ failure: 'the sandbox is closed' });
    this.finishCurrent({ failure: 'the sandbox is closed' });
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  /** Starts a thread; resolves with the load error, or undefined once the module is ready. */
  private start(): Promise<string | undefined> {
    const worker = new Worker(SANDBOX_THREAD_SOURCE, {
      eval: true,
      name: this.data.filename,
      workerData: this.data,
      // SourceTextModule (ES modules) sits behind this flag in Node 20; its warning would go to our stderr.
      execArgv: ['--experimental-vm-modules', '--no-warnings'],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: SANDBOX_HEAP_MB, maxYoungGenerationSizeMb: 8, stackSizeMb: 4 },
    });
    worker.stdout.resume();
    worker.stderr.resume();
    worker.unref();
    this.worker = worker;
    return new Promise((resolve) => {
      let ready = false;
      worker.on('message', (reply: SandboxThreadReply) => {
        if ('ready' in reply) {
          ready = true;
          resolve(undefined);
          this.next();
        } else if ('loadError' in reply) {
          ready = true;
          resolve(reply.loadError);
        } else if (this.current?.call === reply.call) {
          this.finishCurrent('output' in reply ? { output: reply.output } : { failure: reply.error });
          this.next();
        }
      });
      const died = (why: string): void => {
        if (!ready) {
          ready = true;
          resolve(why);
        }
        if (this.worker !== worker) return;
        this.worker = undefined;
        this.finishCurrent({ failure: why });
        this.next();
      };
      worker.on('error', (error) => died(`the sandbox thread failed: ${errorMessage(error)}`));
      worker.on('exit', (code) => died(`the sandbox thread exited (code ${code})`));
    });
  }

  private finishCurrent(answer: SandboxAnswer): void {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    clearTimeout(current.timer);
    current.pending.settle(answer);
  }

  private next(): void {
    if (this.closed || this.current || this.queue.length === 0) return;
    if (!this.worker) {
      if (this.starting) return;
      // The last thread was replaced: evaluate the module again; the queued calls run once it is ready.
      this.starting = true;
      void this.start().then((loadError) => {
        this.starting = false;
        if (loadError === undefined) return this.next();
        for (const pending of this.queue.splice(0)) pending.settle({ failure: loadError });
      });
      return;
    }
    const pending = this.queue.shift()!;
    const call = this.nextCall++;
    const worker = this.worker;
    const timer = setTimeout(() => {
      // The vm timeout did not stop it: replace the thread.
      if (this.current?.call !== call) return;
      this.finishCurrent({ failure: `exceeded its ${pending.budgetMs} ms budget; the thread was replaced` });
      this.worker = undefined;
      void worker.terminate();
      this.next();
    }, pending.budgetMs + SANDBOX_GRACE_MS);
    timer.unref();
    this.current = { call, pending, timer };
    worker.postMessage({ call, input: pending.input, budgetMs: pending.budgetMs } satisfies SandboxThreadRequest);
  }
}
