import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { defaultReportDir } from '../../lab/commands';
import { deriveReportData } from '../../lab/observe/report-data';
import { renderReportHtml, tickStepMs } from '../../lab/observe/report-html';
import { escapeHtml } from '../../lab/observe/static-page';
import { reportDirName, utcStamp, writeRunReport } from '../../lab/observe/report-writer';
import type { RunEvent } from '../../lab/observe/run-events';
import { eventsOf, ratedRun, reportOf } from '../helpers/report-events';

/** Tags the report is made of; anything else in the page would have come from a peer-controlled string. */
const REPORT_TAGS = new Set([
  'html', 'head', 'meta', 'title', 'style', 'body', 'br', 'h1', 'h2', 'h3', 'section', 'p', 'b', 'span', 'ul', 'li',
  'table', 'thead', 'tbody', 'tr', 'th', 'td', 'svg', 'g', 'line', 'rect', 'text', 'circle', 'polyline',
]); // prettier-ignore

function count(html: string, pattern: RegExp): number {
  return html.match(pattern)?.length ?? 0;
}

function render(events: readonly RunEvent[] = ratedRun()): string {
  return renderReportHtml(deriveReportData(events, reportOf(), { run: 'unit' }));
}

describe('escapeHtml', () => {
  it('escapes the five characters that matter in content and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;',
    );
    expect(escapeHtml('peer-1 ← file.bin')).toBe('peer-1 ← file.bin');
  });
});

describe('tickStepMs', () => {
  it('picks 1, 2 or 5 times a power of ten for about ten ticks', () => {
    expect(tickStepMs(10_000)).toBe(1000);
    expect(tickStepMs(25_000)).toBe(5000);
    expect(tickStepMs(9_000)).toBe(1000);
    expect(tickStepMs(1_500)).toBe(200);
    expect(tickStepMs(0)).toBe(1);
  });
});

describe('renderReportHtml', () => {
  it('draws one mark per transfer event', () => {
    const events = ratedRun();
    const html = render(events);
    expect(count(html, /<circle class="transfer"/g)).toBe(events.filter((e) => e.type === 'transfer').length);
    for (const event of events.filter((e) => e.type === 'transfer')) {
      expect(html).toContain(`data-seq="${event.seq}"`);
    }
  });

  it('draws one progress line per downloader and the minimum line where the rates are set', () => {
    const html = render();
    expect(count(html, /<polyline class="progress"/g)).toBe(2);
    expect(count(html, /<g class="minimum-line"/g)).toBe(1);
    expect(html).toContain('min 5.33 s');
  });

  it('says why there is no minimum line when a rate is missing', () => {
    const html = render(ratedRun().filter((e) => !(e.type === 'rate' && e.peer === 'peer-2')));
    expect(count(html, /<g class="minimum-line"/g)).toBe(0);
    expect(html).toMatch(/minimum-note">no minimum line for rated\.bin: the upload rate of peer-2 is not set/);
  });

  it('tabulates the swarm a window at a time: holders, chunks, rate, senders and answer times', () => {
    const html = render();
    const section = html.slice(html.indexOf('<section id="swarm">'), html.indexOf('<section id="faults">'));
    expect(section).toContain('<h3>rated.bin, 1.00 s at a time</h3>');
    // The rated run's three windows, the first with the one answer time its events carry.
    expect(count(section, /<tr><td>/g)).toBe(3);
    expect(section).toMatch(
      /<tr><td>[^<]+<\/td><td>3<\/td><td>4<\/td><td>[^<]+<\/td><td>3<\/td><td>0\.30 s<\/td><td>0\.30 s<\/td><\/tr>/,
    );
    expect(render(eventsOf([[0, { type: 'run', run: 'r' }]]))).toContain('No chunk moved.');
  });

  it('lists the downloads that failed, with their errors', () => {
    const events = eventsOf([
      [0, { type: 'run', run: 'r' }],
      [1500, { type: 'download', peer: 'peer-3', file: 'f.bin', ok: false, error: 'ERR_DISK_FULL: no space left' }],
    ]);
    const html = renderReportHtml(deriveReportData(events, reportOf({ downloads: [] })));
    expect(html).toContain('No download finished.');
    expect(html).toContain('<h3>Downloads that failed</h3>');
    expect(html).toContain('<td>1.50 s</td><td>peer-3</td><td>f.bin</td><td>ERR_DISK_FULL: no space left</td>');
  });

  it('marks faults and recoveries on both time axes', () => {
    const events = eventsOf([
      [0, { type: 'run', run: 'r' }],
      [
        10,
        {
          type: 'step',
          index: 0,
          total: 1,
          action: 'kill',
          targets: ['peer-2'],
          description: 'kill peer-2',
          fault: true,
        },
      ],
      [20, { type: 'node', name: 'peer-2', role: 'peer', state: 'exited' }],
      [30, { type: 'transfer', file: 'f', index: 0, chunks: 1, from: 'peer-1', to: 'peer-3', bytes: 1 }],
    ]);
    const html = renderReportHtml(deriveReportData(events, reportOf({ recoverMs: 20 })));
    expect(count(html, /class="mark mark-fault"/g)).toBe(2);
    expect(count(html, /class="mark mark-node"/g)).toBe(2);
    expect(count(html, /class="mark mark-recovery"/g)).toBe(2);
    expect(html).toContain('Time to recover: <b>0.02 s</b>');
  });

  it('marks when a trigger fired and why, with its key', () => {
    const events = eventsOf([
      [0, { type: 'run', run: 'r' }],
      [
        10,
        { type: 'trigger', index: 2, condition: 'c', reason: 'chunk 3/8 of f held only by peer-2', holder: 'peer-2' },
      ],
      [30, { type: 'transfer', file: 'f', index: 0, chunks: 1, from: 'peer-1', to: 'peer-3', bytes: 1 }],
    ]);
    const html = renderReportHtml(deriveReportData(events, reportOf()));
    expect(count(html, /class="mark mark-trigger"/g)).toBe(2);
    expect(html).toContain('trigger (step 3): chunk 3/8 of f held only by peer-2');
    expect(html).toContain('when: trigger fired</span>');
  });

  it('fetches nothing and runs nothing: no URL, no script, and a policy that forbids both', () => {
    const html = render();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link|<img|\bsrc=|\bhref=/i);
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    );
  });

  it('escapes file and peer names that come from remote peers', () => {
    const file = '<script>alert(1)</script>.bin';
    const peer = '"><img src=x onerror=alert(2)>';
    const events = eventsOf([
      [0, { type: 'run', run: 'r', scenario: '</title><script>alert(3)</script>' }],
      [1, { type: 'node', name: peer, role: 'peer', ip: '<b>ip</b>', state: '<i>x</i>' }],
      [2, { type: 'file', peer, file, size: 10 }],
      [3, { type: 'rate', peer, uploadBps: 10 }],
      [4, { type: 'transfer', file, index: 0, chunks: 1, from: peer, to: `${peer}'`, bytes: 10 }],
      [5, { type: 'progress', peer: `${peer}'`, file, have: 1, chunks: 1 }],
      [6, { type: 'download', peer: `${peer}'`, file, ok: false, error: '<svg onload=alert(4)>' }],
    ]);
    const report = reportOf({
      scenario: '<script>alert(5)</script>',
      downloads: [{ peer, file, bytes: 10, sha256: '<script>', verified: true, chunksBySource: { [peer]: 1 } }],
      steps: [{ index: 0, action: '<script>', targets: [peer], ok: false, startedAtMs: 0, ms: 1, error: '<b>' }],
      ok: false,
      error: { code: 'ERR', message: '<script>alert(6)</script>' },
    });
    const html = renderReportHtml(deriveReportData(events, report, { run: '<script>alert(7)</script>' }));
    const tags = new Set([...html.matchAll(/<([a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => m[1]!.toLowerCase()));
    expect([...tags].filter((tag) => !REPORT_TAGS.has(tag))).toEqual([]);
    expect(html).not.toMatch(/<script|<img|<svg onload/i);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;.bin');
    expect(html).toContain('&#34;&#62;&#60;img src=x onerror=alert(2)&#62;');
  });
});

describe('writeRunReport', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-report-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes into lab/runs of the repository by default (git-ignored)', () => {
    expect(defaultReportDir()).toBe(join(__dirname, '..', '..', 'lab', 'runs'));
  });

  it('names the directory after the run and the UTC start, in a path-safe way', () => {
    const at = new Date(Date.UTC(2026, 10, 25, 23, 5, 9, 123));
    expect(utcStamp(at)).toBe('20261125T230509Z');
    expect(reportDirName('demo', at)).toBe('demo-20261125T230509Z');
    expect(reportDirName('../x/y z', at)).toBe('x-y-z-20261125T230509Z');
    expect(reportDirName('', at)).toBe('run-20261125T230509Z');
  });

  it('writes events.jsonl (one event per line), report.json and report.html', async () => {
    const events = ratedRun();
    const startedAt = Date.UTC(2026, 10, 25, 23, 5, 9);
    const written = await writeRunReport({ reportDir: dir, run: 'unit', events, report: reportOf(), startedAt });
    expect(written.dir).toBe(join(dir, 'unit-20261125T230509Z'));
    expect((await readdir(written.dir)).sort()).toEqual(['events.jsonl', 'report.html', 'report.json']);

    const lines = (await readFile(written.events, 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line) as RunEvent)).toEqual(events);

    const json = JSON.parse(await readFile(written.json, 'utf8')) as Record<string, unknown>;
    expect(json).toMatchObject({ scenario: 'rated', ok: true, run: 'unit', downloads: reportOf().downloads });
    expect(json['derived']).toMatchObject({ originT: 1000, lanes: [{ peer: 'peer-2' }, { peer: 'peer-3' }] });

    const html = await readFile(written.html, 'utf8');
    expect(count(html, /<circle class="transfer"/g)).toBe(8);
  });

  it('never overwrites the report of another run started in the same second', async () => {
    const init = {
      reportDir: join(dir, 'nested', 'runs'),
      run: 'same',
      events: ratedRun(),
      report: reportOf(),
      startedAt: 0,
    };
    const first = await writeRunReport(init);
    const second = await writeRunReport(init);
    expect(second.dir).toBe(`${first.dir}-2`);
  });
});
