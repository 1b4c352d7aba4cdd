/**
 * The upload policy hook (docs/strategies.md): the built-in tit-for-tat, the Choker that applies a
 * policy round by round, and `--uploader PATH` modules loaded in a sandbox (the documented example,
 * and modules that fail at start or at run time).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Choker } from '../../src/peer/choker';
import { createTitForTat, OPTIMISTIC_ROUNDS, serveEveryone, SNUB_AFTER_BYTES } from '../../src/peer/upload-policy';
import type { UploadCandidate, UploadInput } from '../../src/peer/upload-policy';
import { loadUploader, MAX_UPLOADER_FAILURES, probeRound } from '../../src/peer/uploader-loader';
import type { Logger } from '../../src/shared/logger';

function logger(): Logger & { warn: jest.Mock } {
  return { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() } as unknown as Logger & {
    warn: jest.Mock;
  };
}

function candidate(peer: string, received: number, sent = 0): UploadCandidate {
  return {
    peer,
    name: peer,
    receivedBytes: received,
    receivedRecentBytes: received,
    sentBytes: sent,
    sentRecentBytes: 0,
    unchoked: false,
  };
}

function round(candidates: UploadCandidate[], roundNumber = 0, downloading = true): UploadInput {
  return { round: roundNumber, intervalMs: 1000, downloading, slots: 3, candidates };
}

describe('tit-for-tat', () => {
  const swarm = [
    candidate('a', 500),
    candidate('b', 300),
    candidate('c', 100),
    candidate('d', 50),
    candidate('free', 0),
  ];

  it('serves the three best givers and one optimistic unchoke among the others', () => {
    const serve = createTitForTat(() => 0)(round(swarm));
    expect(serve.slice(0, 3)).toEqual(['a', 'b', 'c']);
    expect(serve).toHaveLength(4);
    expect(['d', 'free']).toContain(serve[3]);
  });

  it('keeps its optimistic unchoke for OPTIMISTIC_ROUNDS rounds, then draws again', () => {
    const draws = [0, 0.99];
    const policy = createTitForTat(() => draws.shift() ?? 0);
    const first = policy(round(swarm, 0))[3];
    for (let r = 1; r < OPTIMISTIC_ROUNDS; r++) expect(policy(round(swarm, r))[3]).toBe(first);
    expect(policy(round(swarm, OPTIMISTIC_ROUNDS))[3]).not.toBe(first);
  });

  it('does not draw a requester that took SNUB_AFTER_BYTES and gave nothing', () => {
    const snubbed = [candidate('a', 500), candidate('free', 0, SNUB_AFTER_BYTES)];
    expect(createTitForTat(() => 0)(round(snubbed))).toEqual(['a']);
  });

  it('gives the slots nobody earned yet to newcomers, so that trading starts at once', () => {
    const newcomers = ['n1', 'n2', 'n3', 'n4', 'n5'].map((peer) => candidate(peer, 0));
    expect(createTitForTat(() => 0)(round(newcomers))).toEqual(['n1', 'n2', 'n3', 'n4']);
  });

  it('serves everyone once this peer downloads nothing, as the default does', () => {
    expect(createTitForTat()(round(swarm, 0, false))).toEqual(serveEveryone(round(swarm)));
  });
});

describe('Choker', () => {
  it('refuses a requester until a round serves it, then follows the policy', async () => {
    const choker = new Choker({
      policy: (input) => input.candidates.filter((c) => c.receivedBytes > 0).map((c) => c.peer),
      downloading: () => true,
    });
    expect(choker.admits('giver', 'g')).toBe(false);
    expect(choker.admits('taker', 't')).toBe(false);
    choker.received('giver', 'g', 1000);
    await choker.decide();
    expect(choker.admits('giver', 'g')).toBe(true);
    expect(choker.admits('taker', 't')).toBe(false);
  });

  it('a failed round (undefined) serves everyone', async () => {
    const choker = new Choker({ policy: () => undefined, downloading: () => true });
    choker.admits('x', 'x');
    await choker.decide();
    expect(choker.admits('x', 'x')).toBe(true);
  });

  it('counts bytes per round: the recent tallies restart each round', async () => {
    const inputs: UploadInput[] = [];
    const choker = new Choker({ policy: (input) => (inputs.push(input), []), downloading: () => true });
    choker.admits('p', 'p');
    choker.received('p', 'p', 10);
    choker.sent('p', 7);
    await choker.decide();
    await choker.decide();
    expect(inputs[0]!.candidates[0]).toMatchObject({
      receivedBytes: 10,
      receivedRecentBytes: 10,
      sentBytes: 7,
      sentRecentBytes: 7,
    });
    expect(inputs[1]!.candidates[0]).toMatchObject({
      receivedBytes: 10,
      receivedRecentBytes: 0,
      sentBytes: 7,
      sentRecentBytes: 0,
    });
  });
});

describe('loadUploader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'swarmlab-uploader-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('default is no policy at all; tit-for-tat is the built-in', async () => {
    expect(await loadUploader('default', { logger: logger() })).toEqual({ name: 'default', custom: false });
    expect((await loadUploader('tit-for-tat', { logger: logger() })).policy).toBeInstanceOf(Function);
  });

  it('runs the documented example in a sandbox', async () => {
    const loaded = await loadUploader('docs/examples/uploader-give-back.js', {
      logger: logger(),
      cwd: path.resolve(__dirname, '../..'),
    });
    try {
      const input = round([
        candidate('a', 10),
        candidate('b', 30),
        candidate('c', 20),
        candidate('old', 0, 2 * 1024 * 1024),
        candidate('new', 0),
      ]);
      expect(await loaded.policy!(input)).toEqual(['b', 'c', 'a', 'new']);
    } finally {
      await loaded.close?.();
    }
  });

  it.each([
    ['no-choose.js', 'exports.pick = () => [];\n', /exports no function named "choose"/],
    ['not-list.js', 'exports.choose = () => "peer-a";\n', /choose failed on a test round.*not a list of peer ids/],
    ['unknown.js', "exports.choose = () => ['peer-z'];\n", /not a candidate's id/],
    [
      'requires.js',
      "require('fs');\nexports.choose = () => [];\n",
      /does not load: ReferenceError: require is not defined/,
    ],
  ])('%s fails the start with ERR_UPLOADER', async (file, source, message) => {
    await writeFile(path.join(dir, file), source);
    const failure = loadUploader(file, { logger: logger(), cwd: dir });
    await expect(failure).rejects.toMatchObject({ code: 'ERR_UPLOADER', name: 'PeerError' });
    await expect(failure).rejects.toThrow(message);
  });

  it('a module that fails at run time serves everyone that round, and is disabled after repeated failures', async () => {
    await writeFile(
      path.join(dir, 'later.js'),
      'let calls = 0;\nexports.choose = (input) => { calls += 1; if (calls > 1) for (;;) {} return []; };\n',
    );
    const log = logger();
    const loaded = await loadUploader('later.js', { logger: log, cwd: dir });
    try {
      for (let i = 0; i < MAX_UPLOADER_FAILURES; i++) expect(await loaded.policy!(probeRound())).toBeUndefined();
      expect(log.warn.mock.calls.map((call) => call[0] as string)).toEqual([
        'custom uploader failed; this round serves everyone',
        'custom uploader disabled after repeated failures; serving everyone from now on',
      ]);
      expect(await loaded.policy!(probeRound())).toBeUndefined();
    } finally {
      await loaded.close?.();
    }
  });
});
