/**
 * What crosses between the event loop and an isolated picker (isolated-picker.ts), and the harness
 * that runs inside the sandbox's context (sandbox-thread.ts): it turns one source's snapshot into the
 * `PickInput` of docs/strategies.md and calls the module's `pick` repeatedly, as if each choice had
 * been requested, so one round trip ranks up to `depth` chunks for that source.
 *
 * `pickerHarness` runs from its source text inside the context: no imports, no closures over this
 * module, nothing but the language.
 */

/** One source's view of a download, as the harness receives it (JSON). */
export interface RankSnapshot {
  chunks: number;
  /** One character per chunk, its code the sum of the SNAPSHOT_FLAGS that hold. */
  flags: string;
  requesters: number[];
  availability: number[];
  maxRequesters: number;
  endgame: boolean;
  front: number;
  spread: number;
  /** The most choices to rank. */
  depth: number;
}

/** Bits of RankSnapshot.flags (offset by 48 so each stays a printable character). */
export const SNAPSHOT_FLAGS = { have: 1, writing: 2, sourceHas: 4, asked: 8 } as const;
export const SNAPSHOT_FLAG_OFFSET = 48;

/** The harness's answer: the chunks ranked, and why the ranking stopped early if the module failed. */
export interface RankAnswer {
  ranked: number[];
  error?: string;
}

export function pickerHarness(moduleExports: unknown): unknown {
  function exported(value: unknown, depth: number): unknown {
    if (typeof value === 'function') return value;
    if (typeof value !== 'object' || value === null || depth > 2) return undefined;
    const named = (value as { pick?: unknown }).pick;
    if (typeof named === 'function') return named;
    const fallback = (value as { default?: unknown }).default;
    return fallback === value ? undefined : exported(fallback, depth + 1);
  }
  const pick = exported(moduleExports, 0) as ((input: unknown) => unknown) | undefined;
  if (pick === undefined) return 'exports no function named "pick"';

  function describe(choice: unknown): string {
    if (typeof choice === 'number' || choice === null || typeof choice === 'boolean') return String(choice);
    if (typeof choice === 'string') return JSON.stringify(choice.slice(0, 40));
    return typeof choice;
  }

  return function rank(text: string): string {
    const snapshot = JSON.parse(text) as RankSnapshot;
    const chunks = snapshot.chunks;
    const flags: number[] = [];
    for (let index = 0; index < chunks; index++) flags.push(snapshot.flags.charCodeAt(index) - 48);
    const requesters = snapshot.requesters.slice();
    const has = (bit: number) => (index: number) => typeof index === 'number' && ((flags[index] ?? 0) & bit) !== 0;
    const input = {
      chunks,
      have: { has: has(1) },
      writing: { has: has(2) },
      sourceHas: { has: has(4) },
      askedOfSource: { has: has(8) },
      requesters: (index: number) => requesters[index] ?? 0,
      availability: (index: number) => snapshot.availability[index] ?? 0,
      maxRequesters: snapshot.maxRequesters,
      endgame: () => snapshot.endgame,
      front: snapshot.front,
      spread: snapshot.spread,
      random: Math.random,
    };
    const ranked: number[] = [];
    while (ranked.length < snapshot.depth) {
      let choice: unknown;
      try {
        choice = pick(input);
      } catch (error) {
        let message = 'threw';
        try {
          // The kind of error helps (a ReferenceError: no require here), a plain Error's name does not.
          const kind = error instanceof Error && error.name !== 'Error' ? `${error.name}: ` : '';
          message = `threw: ${kind}${error instanceof Error ? error.message : String(error)}`;
        } catch {
          // An unprintable throw is still a throw.
        }
        return JSON.stringify({ ranked, error: message });
      }
      if (choice === undefined) break;
      const index = choice as number;
      const flag =
        typeof choice === 'number' && Number.isInteger(choice) && index >= 0 && index < chunks
          ? (flags[index] ?? 0)
          : -1;
      const eligible = flag >= 0 && (flag & 4) !== 0 && (flag & 11) === 0;
      const taken = requesters[index] ?? 0;
      if (!eligible || (taken > 0 && !(taken < snapshot.maxRequesters && snapshot.endgame))) {
        return JSON.stringify({ ranked, error: `invalid choice ${describe(choice)}` });
      }
      // As if requested: asked of this source, one more requester.
      ranked.push(index);
      flags[index] = flag | 8;
      requesters[index] = taken + 1;
    }
    return JSON.stringify({ ranked });
  };
}

export const PICKER_HARNESS_SOURCE = pickerHarness.toString();
