/**
 * The figures of `lab compare`: statistics over repeats, each run's figures derived from its events, the
 * `--json` record, and compare.html as a view of exactly those figures.
 */
import type { CompareData, RunFigures } from '../../lab/experiment/compare-data';
import { compareJsonRecord, runFigures, summarizeVariant } from '../../lab/experiment/compare-data';
import { renderCompareHtml } from '../../lab/experiment/compare-html';
import { cdfPoints, median, range } from '../../lab/experiment/stats';
import { FILE, ratedRun, reportOf } from '../helpers/report-events';

describe('median and range', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('leaves out what a run could not measure', () => {
    expect(median([null, 5, undefined, 1, Number.NaN])).toBe(3);
    expect(median([null, null])).toBeNull();
    expect(range([null, 5, 1, 3])).toEqual([1, 5]);
    expect(range([])).toBeNull();
  });

  it('gives the empirical CDF as steps, one per distinct value', () => {
    expect(cdfPoints([3, 1, 3, 2])).toEqual([
      { x: 1, p: 0.25 },
      { x: 2, p: 0.5 },
      { x: 3, p: 1 },
    ]);
    expect(cdfPoints([])).toEqual([]);
  });
});

describe('runFigures', () => {
  // ratedRun: peer-1 seeds 4 chunks of 64 KiB at 64 KiB/s to peer-2 and peer-3 (16 KiB/s each). The
  // distribution starts at the first request (2500 - 300 = 2200 ms) and ends with the last chunk (4800 ms);
  // the minimum is max(4 s, 2·256 KiB / 96 KiB/s) = 5.333 s.
  const init = { run: 'cmp-v1-r1', repeat: 1, seed: 's-1', reportPath: '/x/report.html' };

  it('derives the distribution time, the minimum and their ratio from the events', () => {
    const figures = runFigures(ratedRun(), reportOf(), init);
    expect(figures).toMatchObject({ file: FILE, distributionS: 2.6, minimumS: 5.333, ratio: 0.488, verified: true });
    expect(figures.failures).toEqual([]);
    expect(figures.reportPath).toBe('/x/report.html');
  });

  it('counts the bytes the seeders served, in copies of the file, and those peers served each other', () => {
    const figures = runFigures(ratedRun(), reportOf(), init);
    expect(figures.bytesFromSeeders).toBe(4 * 65536);
    expect(figures.bytesFromPeers).toBe(4 * 65536);
    expect(figures.seederCopies).toBe(1);
  });

  it("gives each verified downloader's completion, from the distribution's start", () => {
    expect(runFigures(ratedRun(), reportOf(), init).completionS).toEqual([2.4, 2.6]);
  });

  it('is not verified, and has no distribution time, when a download failed', () => {
    const events = ratedRun().map((e) =>
      e.type === 'download' && e.peer === 'peer-3' ? { ...e, ok: false, verified: false, error: 'ERR_X boom' } : e,
    );
    const report = reportOf({
      ok: false,
      error: { code: 'ERR_LAB_STEP_FAILED', message: 'step 2 (download) failed' },
    });
    report.downloads[1]!.verified = false;
    const figures = runFigures(events, report, init);
    expect(figures.verified).toBe(false);
    expect(figures.distributionS).toBeNull();
    expect(figures.ratio).toBeNull();
    expect(figures.completionS).toEqual([2.4]);
    expect(figures.failures).toEqual([
      'step 2 (download) failed',
      `peer-3 ${FILE}: ERR_X boom`,
      `peer-3 ${FILE}: not verified`,
    ]);
  });

  it('has no minimum when an upload rate is unknown, but still a distribution time', () => {
    const events = ratedRun().filter((e) => !(e.type === 'rate' && e.peer === 'peer-3'));
    const figures = runFigures(events, reportOf(), init);
    expect(figures.minimumS).toBeNull();
    expect(figures.ratio).toBeNull();
    expect(figures.distributionS).toBe(2.6);
    expect(figures.seederCopies).toBe(1);
  });

  it('is not verified when the run never downloaded anything', () => {
    const figures = runFigures([], reportOf({ downloads: [] }), init);
    expect(figures).toMatchObject({ file: null, distributionS: null, verified: false, completionS: [] });
  });
});

function figures(run: string, distributionS: number | null, extra: Partial<RunFigures> = {}): RunFigures {
  return {
    run,
    repeat: 1,
    seed: 's-1',
    file: FILE,
    distributionS,
    minimumS: 8,
    ratio: distributionS === null ? null : distributionS / 8,
    seederCopies: 1.5,
    bytesFromSeeders: 3 * 1024 * 1024,
    bytesFromPeers: 5 * 1024 * 1024,
    completionS: distributionS === null ? [] : [distributionS - 1, distributionS],
    verified: distributionS !== null,
    failures: distributionS === null ? ['peer-2 x: <boom>'] : [],
    reportPath: `/runs/${run}/report.html`,
    ...extra,
  };
}

function compareOf(): CompareData {
  return {
    scenario: 'pickers',
    scenarioFile: 'lab/experiments/pickers.yaml',
    seed: 'abc',
    repeat: 3,
    axes: [],
    startedAt: 0,
    complete: true,
    ok: false,
    variants: [
      summarizeVariant({ picker: 'rarest' }, [figures('a1', 10), figures('a2', 12), figures('a3', 11)]),
      summarizeVariant({ picker: 'sequential' }, [figures('b1', 24), figures('b2', null), figures('b3', 20)]),
    ],
  };
}

describe('summarizeVariant and the --json record', () => {
  it('gives the median and range over repeats, leaving out failed runs', () => {
    const [rarest, sequential] = compareOf().variants;
    expect(rarest!.median).toEqual({ distributionS: 11, ratio: 11 / 8, minimumS: 8, seederCopies: 1.5 });
    expect(rarest!.range).toEqual({ distributionS: [10, 12], ratio: [10 / 8, 12 / 8] });
    expect(sequential!.median.distributionS).toBe(22);
    expect(sequential!.label).toBe('picker=sequential');
  });

  it('has exactly the fields of the contract', () => {
    const record = compareJsonRecord(compareOf(), '/runs/compare-x/compare.html') as {
      compare: { scenario: string; reportPath: string; variants: Record<string, unknown>[] };
    };
    expect(Object.keys(record)).toEqual(['compare']);
    expect(Object.keys(record.compare).sort()).toEqual(['reportPath', 'scenario', 'variants']);
    expect(record.compare.scenario).toBe('pickers');
    const variant = record.compare.variants[0]!;
    expect(Object.keys(variant).sort()).toEqual(['median', 'runs', 'vary']);
    expect(variant['vary']).toEqual({ picker: 'rarest' });
    expect(variant['median']).toEqual({ distributionS: 11, ratio: 11 / 8 });
    expect(variant['runs']).toContainEqual({
      distributionS: 10,
      minimumS: 8,
      ratio: 1.25,
      seederCopies: 1.5,
      verified: true,
      reportPath: '/runs/a1/report.html',
    });
  });
});

describe('renderCompareHtml', () => {
  const hrefs = new Map([
    ['a1', 'runs/a1/report.html'],
    ['b2', 'runs/b2/report.html'],
  ]);
  const html = renderCompareHtml(compareOf(), { reportHrefs: hrefs });

  it('draws one dot per measured run and one CDF line per variant', () => {
    expect(html.match(/<circle class="run"/g)).toHaveLength(5);
    expect(html.match(/<polyline class="cdf"/g)).toHaveLength(2);
    expect(html.match(/<line class="minimum"/g)).toHaveLength(2);
  });

  it('links each run report it was given, and escapes what runs report', () => {
    expect(html).toContain('<a class="run-report" href="runs/a1/report.html">a1</a>');
    expect(html).toContain('<a class="run-report" href="runs/b2/report.html">b2</a>');
    expect(html).toContain('peer-2 x: &#60;boom&#62;');
    expect(html).not.toContain('<boom>');
  });

  it('is self-contained: no script, nothing fetched', () => {
    expect(html).not.toMatch(/<script|src=|<link/i);
    expect(html).toContain("default-src 'none'");
  });
});
