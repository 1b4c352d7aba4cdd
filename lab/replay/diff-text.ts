/**
 * The text form of a RunDiff: the sections settings, seeds, environment, outcome and timings, each one
 * line when nothing differed. Pure (lines out, no printing), so it is tested on constructed diffs.
 */
import type { RunDiff, RunOutcome, RunTimings, ValueChange } from './diff';

/** Values longer than this are cut in the text form (--json has them whole). */
const MAX_VALUE_CHARS = 80;

function value(v: unknown, present: boolean): string {
  if (!present) return '(absent)';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 3)}...` : text;
}

function changeLines(title: string, changes: readonly ValueChange[]): string[] {
  if (changes.length === 0) return [`${title}: same`];
  return [
    `${title}: ${changes.length} difference(s)`,
    ...changes.map((c) => `  ${c.path || '/'}: ${value(c.a, 'a' in c)} -> ${value(c.b, 'b' in c)}`),
  ];
}

function outcomeText(outcome: RunOutcome): string {
  if (outcome.ok === null) return 'no report.json';
  const verdict = outcome.ok ? 'passed' : 'FAILED';
  const verified = outcome.verified === true ? 'all verified' : 'NOT all verified';
  return `${verdict}, ${outcome.downloads} download(s), ${verified}`;
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

function delta(a: number | null, b: number | null, format: (n: number) => string): string {
  if (a === null || b === null) return '';
  const d = b - a;
  return `${d >= 0 ? '+' : '-'}${format(Math.abs(d))}`;
}

function timingRows(a: RunTimings, b: RunTimings): string[][] {
  const sec = (n: number): string => `${(n / 1000).toFixed(1)} s`;
  const rows: string[][] = [
    ['scenario', seconds(a.scenarioMs), seconds(b.scenarioMs), delta(a.scenarioMs, b.scenarioMs, sec)],
  ];
  for (const file of [...new Set([...Object.keys(a.files), ...Object.keys(b.files)])]) {
    const fa = a.files[file];
    const fb = b.files[file];
    const distA = fa?.distributionMs ?? null;
    const distB = fb?.distributionMs ?? null;
    const minA = fa?.minimumMs ?? null;
    const minB = fb?.minimumMs ?? null;
    const ratioA = fa?.ratio ?? null;
    const ratioB = fb?.ratio ?? null;
    rows.push([`${file} distribution`, seconds(distA), seconds(distB), delta(distA, distB, sec)]);
    rows.push([`${file} minimum`, seconds(minA), seconds(minB), delta(minA, minB, sec)]);
    rows.push([
      `${file} ratio`,
      ratioA === null ? '-' : ratioA.toFixed(2),
      ratioB === null ? '-' : ratioB.toFixed(2),
      delta(ratioA, ratioB, (n) => n.toFixed(2)),
    ]);
  }
  for (const key of [...new Set([...Object.keys(a.completions), ...Object.keys(b.completions)])]) {
    const ca = a.completions[key] ?? null;
    const cb = b.completions[key] ?? null;
    rows.push([`${key} done at`, seconds(ca), seconds(cb), delta(ca, cb, sec)]);
  }
  return rows;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows.map((row) => `  ${row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ')}`.trimEnd());
}

export function renderDiff(diff: RunDiff): string[] {
  const { outcome } = diff;
  return [
    `A: ${diff.a}`,
    `B: ${diff.b}`,
    ...changeLines('settings', diff.settings),
    ...changeLines('seeds', diff.seeds),
    ...changeLines('environment', diff.environment),
    `outcome: ${outcome.same ? 'same' : 'differs'}: A ${outcomeText(outcome.a)}; B ${outcomeText(outcome.b)}`,
    ...outcome.a.failures.map((f) => `  A: ${f}`),
    ...outcome.b.failures.map((f) => `  B: ${f}`),
    'timings:',
    ...table([['', 'A', 'B', 'B-A'], ...timingRows(diff.timings.a, diff.timings.b)]),
  ];
}
