/**
 * Replay from a run folder: a tiny scenario (a generated file without a seed of its own, so its bytes come
 * from the run seed) runs once through `runCommand`, then again from the run folder it wrote. The replay's
 * run.json must hold the same resolved scenario and the same seeds, the downloaded file the same sha256,
 * and `lab diff` of the two folders must find no settings or seeds difference. Needs Docker.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { runCommand } from '../../lab/commands';
import { LABEL_RUN } from '../../lab/engine/lab-docker';
import { Printer } from '../../lab/print';
import type { ScenarioReport } from '../../lab/report-types';
import { diffCommand } from '../../lab/replay/diff-command';
import type { RunDiff } from '../../lab/replay/diff';
import { readRunRecord } from '../../lab/replay/record-io';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 180_000;
const FILE_BYTES = 256 * 1024;

const SCENARIO = {
  name: 'replay-tiny',
  peers: 2,
  chunkSize: 16384,
  peerDefaults: { maxInflight: 4 },
  steps: [
    { action: 'connect', peers: 'all' },
    { action: 'generate', peer: 'peer-1', file: 'seeded.bin', size: FILE_BYTES, text: false },
    { action: 'publish', peer: 'peer-1' },
    { action: 'download', peer: 'peer-2', file: 'seeded.bin' },
    { action: 'assert', peer: 'peer-2', file: 'seeded.bin', verified: true },
  ],
};

describe('lab replay from a run folder (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { labDocker, controller, lines, abort, ctx } = createLabTestContext();
  const run = `replay-test-${process.pid}`;
  let dir: string | undefined;

  afterAll(async () => {
    abort.abort();
    await controller.down(run);
    await controller.down(`${run}-again`);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function runOnce(
    target: string,
    runName: string,
    reportDir: string,
  ): Promise<{ report: ScenarioReport; folder: string }> {
    lines.length = 0;
    const code = await runCommand(ctx, target, { run: runName, json: true, printChunks: false, reportDir });
    const report = JSON.parse(lines[lines.length - 1] ?? '{}') as ScenarioReport & { reportPath?: string };
    if (code !== 0) throw new Error(`run failed: ${report.error?.message}\n${lines.join('\n')}`);
    expect(await labDocker.listContainers({ [LABEL_RUN]: runName })).toEqual([]);
    return { report, folder: dirname(report.reportPath ?? '') };
  }

  it('replays the resolved scenario with the same seeds and bytes, and diff finds no settings difference', async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-replay-'));
    const reportDir = join(dir, 'runs');
    const file = join(dir, 'replay-tiny.json');
    await writeFile(file, JSON.stringify(SCENARIO));

    const first = await runOnce(file, run, reportDir);
    const original = await readRunRecord(first.folder);
    // Resolved: peers listed with peerDefaults applied, defaults written out; the seed derived for the file.
    expect(original.record.scenario.peers).toEqual([
      { name: 'peer-1', env: { SWARMLAB_MAX_INFLIGHT: '4' } },
      { name: 'peer-2', env: { SWARMLAB_MAX_INFLIGHT: '4' } },
    ]);
    expect(original.record.scenario.peerDefaults).toBeUndefined();
    expect(Object.keys(original.record.seeds.files)).toEqual(['seeded.bin']);
    expect(original.record.images?.peer.id).toMatch(/^sha256:/);
    expect(original.record.source).toBe(file);

    const second = await runOnce(`${first.folder}/`, `${run}-again`, reportDir);
    expect(second.folder).not.toBe(first.folder);
    expect(lines).toContain(`seed: ${original.record.seeds.run}`);
    const replayed = await readRunRecord(second.folder);
    expect(replayed.record.scenario).toEqual(original.record.scenario);
    expect(replayed.record.seeds).toEqual(original.record.seeds);
    expect(replayed.record.replayOf).toBe(first.folder);

    const sha = (report: ScenarioReport): string[] => report.downloads.map((d) => d.sha256);
    expect(sha(first.report)).toHaveLength(1);
    expect(sha(second.report)).toEqual(sha(first.report));
    expect(second.report.downloads.every((d) => d.verified)).toBe(true);

    const out: string[] = [];
    const printer = new Printer({ out: { write: (line) => out.push(line) } });
    expect(await diffCommand(printer, first.folder, second.folder, { json: true })).toBe(0);
    const { diff } = JSON.parse(out[out.length - 1] ?? '{}') as { diff: RunDiff };
    expect(diff.settings).toEqual([]);
    expect(diff.seeds).toEqual([]);
    expect(diff.outcome.a.verified).toBe(true);
    expect(diff.outcome.b.verified).toBe(true);
    // The report.json written beside run.json is the one diff read.
    const reportJson = JSON.parse(await readFile(join(second.folder, 'report.json'), 'utf8')) as { ms: number };
    expect(diff.timings.b.scenarioMs).toBe(reportJson.ms);
  });
});
