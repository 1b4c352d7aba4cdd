/**
 * The thread a student's module runs in (sandbox.ts starts it): the module's source text is evaluated
 * in a `vm` context that holds only the language's own globals. No `require`, `process`, `import()`,
 * `fetch`, timers or `console` exist there, and code generation from strings is off, so
 * `constructor.constructor('return process')()` finds nothing to return. Node 20 has no permission
 * model inside workers: what keeps the module from the filesystem and network is that nothing of the
 * host realm is ever handed to it. Only strings cross: the host sets the input as a string, and a
 * harness (source text, also evaluated in the context) builds the module's input from it and
 * returns a JSON string. Every evaluation runs under the call's time budget (`timeout`).
 *
 * The thread runs from this function's source text (`eval`), like hash-thread.ts: it must stay
 * self-contained, with only `require` of Node's own modules.
 */

/** What the thread is started with (`workerData`). */
export interface SandboxThreadData {
  /** The module's source text, read by the host. */
  source: string;
  /** Shown in stack traces and syntax errors. */
  filename: string;
  /** An ES module (`export`); otherwise a CommonJS script (`module.exports`). */
  esm: boolean;
  /**
   * Source of a function expression `(exports) => call`, evaluated in the context: it finds the
   * module's export (throwing when there is none) and returns the function each call runs, which
   * takes the input string and returns a JSON string.
   */
  harness: string;
  /** Budget of the module's top-level evaluation, ms. */
  loadBudgetMs: number;
}

export type SandboxThreadRequest = { call: number; input: string; budgetMs: number };

export type SandboxThreadReply =
  { ready: true } | { loadError: string } | { call: number; output: string } | { call: number; error: string };

export function sandboxThreadMain(): void {
  const DESCRIBE_BUDGET_MS = 100;
  // A throw this close to the budget is taken for the timeout (see the call handler).
  const WATCHDOG_EARLY_MS = 5;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const vm = require('node:vm') as typeof import('node:vm');
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const data = workerData as SandboxThreadData;
  const port = parentPort!;
  const context = vm.createContext(Object.create(null) as object, {
    name: 'swarmlab-sandbox',
    codeGeneration: { strings: false, wasm: false },
  });
  const callScript = new vm.Script('globalThis.__swarmlabCall(globalThis.__swarmlabInput)');
  const contextGlobal = context as Record<string, unknown>;

  // A value thrown by the module belongs to its realm: its message is read in the context, under a
  // budget, since a getter there is the module's code.
  function describe(error: unknown): string {
    if (error instanceof Error) return error.message.split('\n')[0] ?? '';
    contextGlobal['__swarmlabError'] = error;
    try {
      const text: unknown = vm.runInContext(
        '(function (e) { try { return e instanceof Error ? e.name + ": " + e.message : "threw " + String(e); } catch (_) { return "threw an unprintable value"; } })(globalThis.__swarmlabError)',
        context,
        { timeout: DESCRIBE_BUDGET_MS },
      );
      return typeof text === 'string' ? (text.split('\n')[0] ?? '').slice(0, 300) : 'threw an unprintable value';
    } catch {
      return 'threw an unprintable value';
    }
  }

  async function load(): Promise<void> {
    const budget = { timeout: data.loadBudgetMs };
    let exportsObject: unknown;
    if (data.esm) {
      const module = new vm.SourceTextModule(data.source, { context, identifier: data.filename });
      await module.link(() => {
        throw new Error('an isolated module cannot import anything');
      });
      await module.evaluate(budget);
      exportsObject = module.namespace;
    } else {
      vm.runInContext('var module = { exports: {} }; var exports = module.exports;', context);
      new vm.Script(data.source, { filename: data.filename }).runInContext(context, budget);
      exportsObject = vm.runInContext('module.exports', context);
    }
    contextGlobal['__swarmlabExports'] = exportsObject;
    // The harness answers a string when the export is missing, else the function each call runs.
    const missing: unknown = vm.runInContext(
      `(function () { var call = (${data.harness})(globalThis.__swarmlabExports); if (typeof call === 'string') return call; globalThis.__swarmlabCall = call; return ''; })()`,
      context,
      budget,
    );
    if (missing !== '') throw new Error(typeof missing === 'string' ? missing : 'the harness answered no string');
  }

  port.on('message', (request: SandboxThreadRequest) => {
    contextGlobal['__swarmlabInput'] = request.input;
    let reply: SandboxThreadReply;
    const startedMs = performance.now();
    try {
      const output: unknown = callScript.runInContext(context, { timeout: request.budgetMs });
      reply =
        typeof output === 'string'
          ? { call: request.call, output }
          : { call: request.call, error: 'the harness answered no string' };
    } catch (error) {
      // The timeout's error is not of this realm (nor is reading its code safe): the clock tells. vm's
      // watchdog keeps a clock of its own and fires up to a millisecond before ours reaches the budget.
      const timedOut = performance.now() - startedMs >= request.budgetMs - WATCHDOG_EARLY_MS;
      reply = { call: request.call, error: timedOut ? `exceeded its ${request.budgetMs} ms budget` : describe(error) };
    }
    port.postMessage(reply);
  });

  load().then(
    () => port.postMessage({ ready: true } satisfies SandboxThreadReply),
    (error: unknown) => port.postMessage({ loadError: describe(error) } satisfies SandboxThreadReply),
  );
}

export const SANDBOX_THREAD_SOURCE = `(${sandboxThreadMain.toString()})();`;
