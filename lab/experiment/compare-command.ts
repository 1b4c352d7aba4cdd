/**
 * `npm run lab -- compare SCENARIO --vary KEY=V1,V2 [--repeat N] [--seed S]`: runs every variant N times,
 * each on a fresh run through the same path as `lab run` (replayScenario, then the run report), and
 * writes compare.json and compare.html into lab/runs/compare-<UTC>/ (or under --report-dir).
 *
 * Repeats are interleaved (repeat 1 of every variant, then repeat 2...), so a drift in the machine's load
 * weighs on every variant alike; repeat r of every variant runs with the same run seed. The comparison is
 * rewritten after each run, so an interrupt or a failure later loses nothing already measured.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

import { createLogger } from '../../src/shared/logger';
import { defaultReportDir, executeScenario, resolveScenarioFile, type CommandContext } from '../commands';
import { DEFAULT_LAB_ENGINE } from '../engine/lab-engine';
import { buildRunRecord } from '../replay/record-builder';
import { writeRunRecord } from '../replay/record-io';
import { UsageError, messageOf } from '../errors';
import { createFreshDir, utcStamp, writeRunReport } from '../observe/report-writer';
import { RunRecorder } from '../observe/run-events';
import { loadScenario } from '../scenario/load';
import { applyVariant } from './apply-variant';
import { compareJsonRecord, runFigures, summarizeVariant, type CompareData, type RunFigures } from './compare-data';
import { renderCompareHtml } from './compare-html';
import { ImageNotFoundError } from './errors';
import { expandVariants, parseVary, variantLabel } from './vary';

const log = createLogger('lab');

export const DEFAULT_REPEAT = 3;
/** Every repeat is a real run of every variant: a bound keeps a typo from meaning a day of runs. */
export const MAX_REPEAT = 50;
export const COMPARE_JSON_FILE = 'compare.json';
export const COMPARE_HTML_FILE = 'compare.html';

export interface CompareOptions {
  /** The `--vary KEY=V1,V2` options, as given. */
  vary: string[];
  /** Runs per variant (default DEFAULT_REPEAT). */
  repeat?: number;
  /** The compare's seed (default: random); repeat r runs with `<seed>-<r>`. */
  seed?: string;
  json?: boolean;
  /** Parent of the compare-<UTC> folder (default lab/runs). */
  reportDir?: string;
  /** Prefix of the runs' names (default `cmp-HHMMSS`); run names are `<prefix>-v<variant>-r<repeat>`. */
  run?: string;
}

function formatS(value: number | null): string {
  return value === null ? '-' : `${value.toFixed(1)} s`;
}

function describeRun(run: RunFigures): string {
  const outcome = run.verified ? 'verified' : `FAILED (${run.failures[0] ?? 'not verified'})`;
  const ratio = run.ratio === null ? '' : `, ×${run.ratio.toFixed(2)} the minimum ${formatS(run.minimumS)}`;
  const copies = run.seederCopies === null ? '' : `, seeder copies ${run.seederCopies.toFixed(2)}`;
  return `distribution ${formatS(run.distributionS)}${ratio}${copies}: ${outcome}`;
}

export async function compareCommand(ctx: CommandContext, file: string, options: CompareOptions): Promise<number> {
  const scenarioFile = resolveScenarioFile(file);
  const scenario = await loadScenario(scenarioFile);
  const axes = options.vary.map(parseVary);
  const varyArgs = options.vary.flatMap((v) => ['--vary', v]);
  const variants = expandVariants(axes);
  // Every variant is built and validated before the first container starts.
  const applied = variants.map((variant) => applyVariant(scenario, axes, variant));
  for (const image of new Set(applied.flatMap((a) => Object.values(a.peerImages)))) {
    if ((await ctx.controller.docker.inspectImage(image)) === undefined) throw new ImageNotFoundError(image);
  }
  const repeat = options.repeat ?? DEFAULT_REPEAT;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) {
    throw new UsageError(`--repeat must be 1..${MAX_REPEAT}, got ${repeat}`);
  }
  const seed = options.seed ?? randomBytes(4).toString('hex');
  const startedAt = Date.now();
  const stamp = utcStamp(new Date(startedAt));
  const dir = resolve(await createFreshDir(options.reportDir ?? defaultReportDir(), `compare-${stamp}`));
  const htmlPath = join(dir, COMPARE_HTML_FILE);
  const prefix = options.run ?? `cmp-${stamp.slice(9, 15)}`;
  const results: RunFigures[][] = variants.map(() => []);
  const hrefs = new Map<string, string>();
  const total = variants.length * repeat;
  ctx.printer.line(
    `compare ${scenario.name}: ${variants.length} variant(s) x ${repeat} repeat(s) = ${total} run(s), seed ${seed}, into ${dir}`,
  );

  const snapshot = (complete: boolean): CompareData => {
    const summaries = variants.map((variant, i) => summarizeVariant(variant, results[i]!));
    return {
      scenario: scenario.name,
      scenarioFile: file,
      seed,
      repeat,
      axes,
      startedAt,
      variants: summaries,
      complete,
      ok: summaries.every((v) => v.runs.every((r) => r.verified)),
    };
  };
  const write = async (data: CompareData): Promise<void> => {
    const record = { ...data, reportPath: htmlPath, reportHrefs: Object.fromEntries(hrefs) };
    await writeFile(join(dir, COMPARE_JSON_FILE), `${JSON.stringify(record, null, 2)}\n`);
    await writeFile(htmlPath, renderCompareHtml(data, { reportHrefs: hrefs }));
  };

  let done = 0;
  outer: for (let r = 1; r <= repeat; r += 1) {
    for (const [i, variant] of variants.entries()) {
      if (ctx.signal.aborted) break outer;
      const run = `${prefix}-v${i + 1}-r${r}`;
      const runSeed = `${seed}-${r}`;
      ctx.printer.line();
      ctx.printer.line(`[${done + 1}/${total}] ${variantLabel(variant)}, repeat ${r}: run ${run}, seed ${runSeed}`);
      const recorder = new RunRecorder();
      const { peerImages } = applied[i]!;
      const executed = await executeScenario(ctx, applied[i]!.scenario, {
        run,
        recorder,
        printChunks: false,
        seed: runSeed,
        ...(Object.keys(peerImages).length === 0 ? {} : { peerImages }),
      });
      const { report } = executed;
      let reportPath: string | undefined;
      try {
        const written = await writeRunReport({
          reportDir: join(dir, 'runs'),
          run,
          events: recorder.events,
          report,
          startedAt: recorder.startedAt,
        });
        // Each compared run is an ordinary run folder, replayable on its own (`lab run DIR/`).
        await writeRunRecord(
          written.dir,
          await buildRunRecord({
            run,
            startedAt: recorder.startedAt,
            engine: ctx.engine ?? DEFAULT_LAB_ENGINE,
            command: ['compare', file, ...varyArgs],
            source: file,
            scenario: executed.scenario,
            seeds: executed.seeds,
            images: executed.images,
            report,
          }),
        );
        reportPath = written.html;
        hrefs.set(run, relative(dir, written.html));
      } catch (err) {
        log.error('Could not write the run report', { run, error: messageOf(err) });
      }
      const figures = runFigures(recorder.events, report, {
        run,
        repeat: r,
        seed: runSeed,
        ...(reportPath === undefined ? {} : { reportPath }),
      });
      results[i]!.push(figures);
      done += 1;
      ctx.printer.line(`  ${describeRun(figures)}`);
      await write(snapshot(false));
    }
  }

  const data = snapshot(done === total);
  await write(data);
  ctx.printer.line();
  for (const variant of data.variants) {
    const ratio = variant.median.ratio === null ? '-' : `x${variant.median.ratio.toFixed(2)}`;
    ctx.printer.line(
      `${variant.label}: median distribution ${formatS(variant.median.distributionS)} ` +
        `(minimum ${formatS(variant.median.minimumS)}, ratio ${ratio}), ` +
        `${variant.runs.filter((run) => run.verified).length}/${variant.runs.length} runs verified`,
    );
  }
  ctx.printer.line(`report: ${htmlPath}`);
  if (options.json === true) ctx.printer.json(compareJsonRecord(data, htmlPath));
  return data.complete && data.ok ? 0 : 1;
}
