/**
 * The Grade section that opens an exercise run's report.html: each check passed, failed or not run, its
 * points, its measurement against its threshold in words, the hint when it failed, and a link to that
 * moment on the timeline; a footer with what a re-run needs (seed, parameters, the student's module and the
 * exercise by sha256, versions, core count). Pure: the page text in, the page text out.
 */
import { escapeHtml } from '../observe/static-page';
import type { CheckResult, Grade } from './grade';

/** What pins a grade, so a disputed one can be re-run. */
export interface GradeFooter {
  seed: number;
  student: string;
  parameters: Record<string, number>;
  /** sha256 of the student's module (or settings / scenario), when they gave one. */
  submissionSha256?: string;
  submission?: string;
  exerciseSha256: string;
  versions: Record<string, string>;
  cores: number;
  runs: number;
}

const STATUS_TEXT: Record<CheckResult['status'], string> = { passed: 'passed', failed: 'FAILED', 'not-run': 'not run' };

/**
 * A link to the check's moment on the timeline: this page's, or the report of the run it came from
 * (`runHrefs[run]`, relative to this page) when the grade took it from another run.
 */
function momentLink(check: CheckResult, originT: number, runHrefs: readonly string[]): string {
  if (check.atT === undefined) return '';
  const seconds = ((check.atT - originT) / 1000).toFixed(1);
  const last = runHrefs.length - 1;
  const otherRun = check.run !== undefined && check.run !== last && runHrefs[check.run] !== undefined;
  const href = otherRun ? `${runHrefs[check.run!]}#timeline` : '#timeline';
  const label = `${seconds} s on the timeline${otherRun ? ` of run ${check.run! + 1}` : ''}`;
  return ` <a class="moment" href="${escapeHtml(href)}" data-t="${check.atT}">${escapeHtml(label)}</a>`;
}

/** `originT`: time zero of this page's run; `runHrefs`: each run's report.html, relative to this page. */
export function gradeSectionHtml(
  grade: Grade,
  footer: GradeFooter,
  originT = 0,
  runHrefs: readonly string[] = [],
): string {
  const rows = grade.checks
    .map(
      (check) =>
        `<tr class="check check-${check.status}" data-check="${escapeHtml(check.id)}">` +
        `<td>${escapeHtml(check.band)}</td><td>${escapeHtml(check.id)}</td>` +
        `<td class="status">${STATUS_TEXT[check.status]}</td>` +
        `<td>${check.points} / ${check.maxPoints}</td>` +
        `<td>${escapeHtml(check.words)}${momentLink(check, originT, runHrefs)}` +
        `${check.hint === undefined ? '' : `<div class="hint">Hint: ${escapeHtml(check.hint)}</div>`}</td></tr>`,
    )
    .join('\n');
  const parameters = Object.entries(footer.parameters)
    .map(([name, value]) => `${name} = ${value}`)
    .join(', ');
  const versions = Object.entries(footer.versions)
    .map(([name, value]) => `${name} ${value}`)
    .join(', ');
  const submission =
    footer.submissionSha256 === undefined
      ? 'none'
      : `${footer.submission ?? 'module'} sha256 ${footer.submissionSha256}`;
  const heading =
    grade.error === undefined
      ? `<h2>Grade: ${grade.score} / ${grade.maxScore} ${grade.passed ? '(passed)' : '(not passed)'}</h2>`
      : `<h2>No grade: the lab failed to start run ${grade.error.run + 1}</h2>
<p class="lab-failure">${escapeHtml(grade.error.code)}: ${escapeHtml(grade.error.message)}. This is a failure of the lab
(${escapeHtml(grade.error.kind)}), not of the submission: nothing was graded. Fix the lab and run the check again.</p>`;
  return `<section id="grade">
${heading}
<p class="note">Exercise ${escapeHtml(grade.exercise)}. Checks run in bands (validity, integrity, performance,
robustness); after a failed band the later ones are not run. Timed checks are the median of ${footer.runs} run(s),
as a ratio to the rate-limited bound.</p>
<table class="grade"><thead><tr><th>band</th><th>check</th><th>result</th><th>points</th><th>measured</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="note grade-footer">seed ${footer.seed} (student ${escapeHtml(footer.student)}); parameters ${escapeHtml(parameters || 'none')};
submission ${escapeHtml(submission)}; exercise sha256 ${footer.exerciseSha256}; ${escapeHtml(versions)}; ${footer.cores} cores.</p>
</section>
`;
}

const GRADE_STYLE = `<style>
#grade .check-passed .status { color: #1a7f37; font-weight: bold; }
#grade .check-failed .status { color: #cf222e; font-weight: bold; }
#grade .check-not-run { color: #888; }
#grade .hint { color: #9a6700; margin-top: 2px; }
#grade .lab-failure { color: #cf222e; }
</style>
`;

/** The report page with the Grade section first, before the run's summary. */
export function withGradeSection(html: string, section: string): string {
  const anchor = '<section id="summary">';
  const at = html.indexOf(anchor);
  if (at < 0) return html.replace('</body>', `${GRADE_STYLE}${section}</body>`);
  return `${html.slice(0, at)}${GRADE_STYLE}${section}${html.slice(at)}`;
}
