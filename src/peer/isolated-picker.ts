/**
 * A custom picker module run isolated (`--picker PATH`, the default `--picker-isolation worker`): its
 * `pick` runs in a sandbox thread (sandbox.ts) and the scheduler reads its choices from rankings.
 *
 * Why rankings: the scheduler asks for a chunk synchronously, once per request, thousands of times
 * per download; a round trip to a thread per request would cost more than the download's own work.
 * So each source gets a pick function that answers from that source's latest ranking (up to
 * RANK_DEPTH chunks, computed in the thread by calling `pick` as if each choice had been requested,
 * picker-harness.ts) and asks the thread for a new one when it runs out or is older than
 * RANKING_TTL_MS. While a ranking is computed the source waits (no request), and is woken when it
 * arrives. Every ranked chunk is checked again against the live state when it is used
 * (`isValidPick`); a stale one is skipped.
 *
 * A ranking that fails (a throw, an invalid choice, a call past its PICKER_CALL_BUDGET_MS budget, a
 * thread that dies) is logged, and that source picks by rarest until its next ranking. After
 * MAX_PICKER_FAILURES failures in a row the module is disabled: rarest from then on, logged once.
 * Neither ever leaves a download waiting.
 */
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { PICKER_HARNESS_SOURCE, SNAPSHOT_FLAG_OFFSET, SNAPSHOT_FLAGS } from './picker-harness';
import type { RankAnswer, RankSnapshot } from './picker-harness';
import { pickChunk } from './piece-picker';
import type { PickFunction, PickInput } from './piece-picker';
import { isValidPick, PICKER_WARN_EVERY } from './pickers';
import { Sandbox } from './sandbox';

/** Time budget of one ranking (up to RANK_DEPTH calls of the module's `pick`). */
export const PICKER_CALL_BUDGET_MS = 250;
/** Chunks ranked per round trip: more than a source's request window, so one ranking fills it. */
export const RANK_DEPTH = 32;
/** A ranking older than this is replaced: rarity and what others were asked for have moved on. */
export const RANKING_TTL_MS = 250;
/** Failed rankings in a row after which the module is disabled. */
export const MAX_PICKER_FAILURES = 3;

export interface IsolatedPickerInit {
  budgetMs?: number;
  depth?: number;
  now?: () => number;
}

interface SourceRanking {
  ranked: number[];
  position: number;
  madeAtMs: number;
  pending: boolean;
  /** Rarest until then: the last ranking failed. */
  fallbackUntilMs: number;
}

/** The snapshot of one source's PickInput that the harness receives. */
export function rankSnapshot(input: PickInput, depth: number): RankSnapshot {
  const flags = Buffer.alloc(input.chunks);
  const requesters: number[] = [];
  const availability: number[] = [];
  for (let index = 0; index < input.chunks; index++) {
    let flag = SNAPSHOT_FLAG_OFFSET;
    if (input.have.has(index)) flag += SNAPSHOT_FLAGS.have;
    if (input.writing?.has(index)) flag += SNAPSHOT_FLAGS.writing;
    if (input.sourceHas.has(index)) flag += SNAPSHOT_FLAGS.sourceHas;
    if (input.askedOfSource.has(index)) flag += SNAPSHOT_FLAGS.asked;
    flags[index] = flag;
    requesters.push(input.requesters(index));
    availability.push(input.availability(index));
  }
  return {
    chunks: input.chunks,
    flags: flags.toString('latin1'),
    requesters,
    availability,
    maxRequesters: input.maxRequesters,
    endgame: input.endgame?.() ?? true,
    front: input.front ?? 0,
    spread: input.spread ?? 1,
    depth,
  };
}

/** The harness's answer, or why it is not one. */
export function parseRankAnswer(answer: { output: string } | { failure: string }): RankAnswer {
  if ('failure' in answer) return { ranked: [], error: answer.failure };
  try {
    const parsed = JSON.parse(answer.output) as { ranked?: unknown; error?: unknown };
    const ranked =
      Array.isArray(parsed.ranked) && parsed.ranked.every((index) => Number.isInteger(index))
        ? (parsed.ranked as number[])
        : undefined;
    if (!ranked) return { ranked: [], error: 'the ranking is not a list of chunk indices' };
    return typeof parsed.error === 'string' ? { ranked, error: parsed.error } : { ranked };
  } catch (error) {
    return { ranked: [], error: `unreadable ranking: ${errorMessage(error)}` };
  }
}

export class IsolatedPicker {
  private consecutiveFailures = 0;
  private failures = 0;
  private disabledFlag = false;
  private readonly budgetMs: number;
  private readonly depth: number;
  private readonly now: () => number;

  private constructor(
    private readonly sandbox: Sandbox,
    readonly name: string,
    private readonly logger: Logger,
    init: IsolatedPickerInit,
  ) {
    this.budgetMs = init.budgetMs ?? PICKER_CALL_BUDGET_MS;
    this.depth = init.depth ?? RANK_DEPTH;
    this.now = init.now ?? ((): number => performance.now());
  }

  /** Evaluates the module in a sandbox; rejects with the reason it does not load or has no `pick`. */
  static async open(path: string, logger: Logger, init: IsolatedPickerInit = {}): Promise<IsolatedPicker> {
    const sandbox = await Sandbox.open({ path, harness: PICKER_HARNESS_SOURCE, name: 'swarmlab-picker' });
    return new IsolatedPicker(sandbox, path, logger, init);
  }

  get disabled(): boolean {
    return this.disabledFlag;
  }

  /** One choice for `input`, as the start check needs it: the ranking's first entry or its error. */
  async probe(input: PickInput): Promise<RankAnswer> {
    return parseRankAnswer(await this.sandbox.call(JSON.stringify(rankSnapshot(input, 1)), this.budgetMs));
  }

  /** A pick function for one source; `wake` is called when a ranking it waited for arrives. */
  forSource(wake: () => void): PickFunction {
    const state: SourceRanking = {
      ranked: [],
      position: 0,
      madeAtMs: -Infinity,
      pending: false,
      fallbackUntilMs: -Infinity,
    };
    return (input) => {
      if (this.disabledFlag) return pickChunk(input);
      const nowMs = this.now();
      if (nowMs < state.fallbackUntilMs) return pickChunk(input);
      if (nowMs - state.madeAtMs < RANKING_TTL_MS) {
        while (state.position < state.ranked.length) {
          const index = state.ranked[state.position++];
          if (isValidPick(input, index)) return index;
        }
      }
      if (!state.pending) this.rank(state, input, wake);
      return undefined;
    };
  }

  async close(): Promise<void> {
    await this.sandbox.close();
  }

  private rank(state: SourceRanking, input: PickInput, wake: () => void): void {
    state.pending = true;
    const snapshot = JSON.stringify(rankSnapshot(input, this.depth));
    void this.sandbox.call(snapshot, this.budgetMs).then((answer) => {
      state.pending = false;
      const { ranked, error } = parseRankAnswer(answer);
      if (error !== undefined) {
        this.failed(error);
        state.fallbackUntilMs = this.now() + RANKING_TTL_MS;
        wake();
        return;
      }
      this.consecutiveFailures = 0;
      state.ranked = ranked;
      state.position = 0;
      state.madeAtMs = this.now();
      // An empty ranking is the module's "nothing now": the next event asks again, not this answer.
      if (ranked.length > 0) wake();
    });
  }

  private failed(reason: string): void {
    if (this.disabledFlag) return;
    this.failures++;
    this.consecutiveFailures++;
    if (this.failures === 1 || this.failures % PICKER_WARN_EVERY === 0) {
      this.logger.warn('custom picker failed; this choice falls back to rarest', {
        picker: this.name,
        reason,
        failures: this.failures,
      });
    }
    if (this.consecutiveFailures < MAX_PICKER_FAILURES) return;
    this.disabledFlag = true;
    this.logger.warn('custom picker disabled after repeated failures; rarest from now on', {
      picker: this.name,
      reason,
      failures: this.failures,
    });
    void this.sandbox.close();
  }
}
