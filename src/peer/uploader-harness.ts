/**
 * The harness of an isolated uploader module (`--uploader PATH`), run from its source text inside the
 * sandbox's context (sandbox-thread.ts): it finds the module's `choose`, and on each call parses the
 * round's input (upload-policy.ts `UploadInput`, as JSON), calls `choose`, and checks the answer: a
 * list of candidate ids, each at most once. No imports, no closures over this module.
 */

/** The harness's answer: the ids to serve, or why the module's answer is none. */
export type ChooseAnswer = { serve: string[] } | { error: string };

export function uploaderHarness(moduleExports: unknown): unknown {
  function exported(value: unknown, depth: number): unknown {
    if (typeof value === 'function') return value;
    if (typeof value !== 'object' || value === null || depth > 2) return undefined;
    const named = (value as { choose?: unknown }).choose;
    if (typeof named === 'function') return named;
    const fallback = (value as { default?: unknown }).default;
    return fallback === value ? undefined : exported(fallback, depth + 1);
  }
  const choose = exported(moduleExports, 0) as ((input: unknown) => unknown) | undefined;
  if (choose === undefined) return 'exports no function named "choose"';

  return function call(text: string): string {
    const input = JSON.parse(text) as { candidates: Array<{ peer: string }> };
    const known: Record<string, boolean> = {};
    for (const candidate of input.candidates) known[candidate.peer] = true;
    let answer: unknown;
    try {
      answer = choose(input);
    } catch (error) {
      let message = 'threw';
      try {
        const kind = error instanceof Error && error.name !== 'Error' ? `${error.name}: ` : '';
        message = `threw: ${kind}${error instanceof Error ? error.message : String(error)}`;
      } catch {
        // An unprintable throw is still a throw.
      }
      return JSON.stringify({ error: message });
    }
    if (!Array.isArray(answer)) return JSON.stringify({ error: `answered ${answer === null ? 'null' : typeof answer}, not a list of peer ids` });
    const serve: string[] = [];
    for (const peer of answer as unknown[]) {
      if (typeof peer !== 'string' || known[peer] !== true) return JSON.stringify({ error: `answered ${JSON.stringify(String(peer).slice(0, 40))}, not a candidate's id` });
      if (serve.indexOf(peer) < 0) serve.push(peer);
    }
    return JSON.stringify({ serve });
  };
}

export const UPLOADER_HARNESS_SOURCE = uploaderHarness.toString();
