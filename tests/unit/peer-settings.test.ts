/**
 * The switchable peer settings (docs/strategies.md): flags and SWARMLAB_* variables reach the peer's
 * configuration, flags win, bad values fail with ConfigError; a picker module is loaded and checked at
 * start (ERR_PICKER) and resolved against the working directory; `--super-seed` decides when the
 * seeding policy applies.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { peerConfig } from '../../src/cli/peer-config';
import { loadPicker, PICKER_ISOLATIONS, probeInput } from '../../src/peer/picker-loader';
import { pickChunk } from '../../src/peer/piece-picker';
import { PICKERS } from '../../src/peer/pickers';
import { SeedingPolicy, superSeedEnabled } from '../../src/peer/seeding-policy';
import type { Logger } from '../../src/shared/logger';

const ENV = [
  'SWARMLAB_PICKER',
  'SWARMLAB_ENDGAME',
  'SWARMLAB_SUPER_SEED',
  'SWARMLAB_MAX_INFLIGHT',
  'SWARMLAB_CHUNK_SIZE',
];

function withEnv(env: Record<string, string>, run: () => void): void {
  const saved = Object.fromEntries(ENV.map((key) => [key, process.env[key]]));
  try {
    for (const key of ENV) delete process.env[key];
    Object.assign(process.env, env);
    run();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

function logger(): Logger & { warn: jest.Mock } {
  return { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() } as unknown as Logger & {
    warn: jest.Mock;
  };
}

describe('peer settings from flags and environment', () => {
  it('defaults: no picker, endgame or super-seed setting (rarest, on, auto), no inflight or chunk size override', () => {
    withEnv({}, () => {
      const config = peerConfig({ dir: '/tmp/x' });
      expect(config.picker).toBeUndefined();
      expect(config.endgame).toBeUndefined();
      expect(config.superSeed).toBeUndefined();
      expect(config.maxInflight).toBeUndefined();
      expect(config.chunkSize).toBeUndefined();
    });
  });

  it('reads SWARMLAB_PICKER, SWARMLAB_ENDGAME, SWARMLAB_SUPER_SEED, SWARMLAB_MAX_INFLIGHT, SWARMLAB_CHUNK_SIZE', () => {
    withEnv(
      {
        SWARMLAB_PICKER: 'sequential',
        SWARMLAB_ENDGAME: 'off',
        SWARMLAB_SUPER_SEED: 'on',
        SWARMLAB_MAX_INFLIGHT: '4',
        SWARMLAB_CHUNK_SIZE: '64K',
      },
      () => {
        expect(peerConfig({ dir: '/tmp/x' })).toMatchObject({
          picker: 'sequential',
          endgame: 'off',
          superSeed: 'on',
          maxInflight: 4,
          chunkSize: 65_536,
        });
      },
    );
  });

  it('flags win over the environment', () => {
    withEnv(
      { SWARMLAB_PICKER: 'sequential', SWARMLAB_ENDGAME: 'off', SWARMLAB_SUPER_SEED: 'on', SWARMLAB_MAX_INFLIGHT: '4' },
      () => {
        const config = peerConfig({
          dir: '/tmp/x',
          picker: 'random',
          endgame: 'on',
          'super-seed': 'off',
          'max-inflight': '8',
        });
        expect(config).toMatchObject({ picker: 'random', endgame: 'on', superSeed: 'off', maxInflight: 8 });
      },
    );
  });

  it.each([
    [{ endgame: 'yes' }, /endgame must be equal to one of the allowed values \(on, off\)/],
    [{ 'super-seed': 'always' }, /superSeed must be equal to one of the allowed values \(auto, on, off\)/],
    [{ 'max-inflight': '0' }, /maxInflight must be >= 1/],
    [{ 'max-inflight': '1000' }, /maxInflight must be <= 256/],
    [{ 'max-inflight': 'many' }, /--max-inflight must be a whole number/],
    [{ 'chunk-size': '512' }, /chunkSize must be >= 1024/],
  ])('%p is a ConfigError', (flags, message) => {
    withEnv({}, () => {
      let caught: unknown;
      try {
        peerConfig({ dir: '/tmp/x', ...flags });
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code: 'ERR_CONFIG' });
      expect((caught as Error).message).toMatch(message);
    });
  });
});

describe('loadPicker', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'swarmlab-pickers-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function module(name: string, source: string): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, source);
    return file;
  }

  it.each(['rarest', 'random', 'sequential'] as const)('%s is a built-in, not a path', async (name) => {
    const loaded = await loadPicker(name, { logger: logger(), cwd: '/nonexistent' });
    expect(loaded).toEqual({ name, pick: PICKERS[name], custom: false });
  });

  it('loads a CommonJS module exporting pick, resolved against cwd, and guards it', async () => {
    await module(
      'last.js',
      'exports.pick = (input) => { for (let i = input.chunks - 1; i >= 0; i--) if (input.sourceHas.has(i) && !input.have.has(i)) return i; return undefined; };\n',
    );
    const log = logger();
    const loaded = await loadPicker('last.js', { logger: log, cwd: dir, isolation: 'none' });
    expect(loaded).toMatchObject({ name: path.join(dir, 'last.js'), custom: true });
    expect(loaded.pick!(probeInput())).toBe(2);
    // Guarded: a choice it may not make (2 already asked of this source) falls back to rarest.
    const input = { ...probeInput(), askedOfSource: new Set([2]) };
    expect(loaded.pick!(input)).toBe(pickChunk(input));
    expect(log.warn).toHaveBeenCalledTimes(1);
  });

  it('accepts module.exports = function and a default export', async () => {
    await module('fn.js', 'module.exports = () => undefined;\n');
    await module('default.js', 'exports.default = () => 1;\n');
    expect(
      (await loadPicker('fn.js', { logger: logger(), cwd: dir, isolation: 'none' })).pick!(probeInput()),
    ).toBeUndefined();
    expect(
      (await loadPicker('default.js', { logger: logger(), cwd: dir, isolation: 'none' })).pick!(probeInput()),
    ).toBe(1);
  });

  const startFailures: Array<[string, string | undefined, RegExp]> = [
    ['missing.js', undefined, /does not load/],
    ['syntax.js', 'exports.pick = (=>;\n', /does not load/],
    ['none.js', 'exports.choose = () => 1;\n', /exports no function named "pick"/],
    ['not-fn.js', 'exports.pick = 3;\n', /exports no function named "pick"/],
    ['throws.js', "exports.pick = () => { throw new Error('bad'); };\n", /pick threw on a test input: bad/],
    ['lacked.js', 'exports.pick = () => 3;\n', /pick returned 3 on a test input/],
    ['negative.js', 'exports.pick = () => -1;\n', /pick returned -1/],
    ['null.js', 'exports.pick = () => null;\n', /pick returned null/],
    ['string.js', "exports.pick = () => '1';\n", /pick returned "1"/],
  ];
  it.each(
    startFailures.flatMap(([file, source, message]) =>
      PICKER_ISOLATIONS.map((isolation) => [file, isolation, source, message] as const),
    ),
  )('%s (isolation %s) fails the start with ERR_PICKER', async (file, isolation, source, message) => {
    if (source !== undefined) await module(file, source);
    const failure = loadPicker(file, { logger: logger(), cwd: dir, isolation });
    await expect(failure).rejects.toMatchObject({ code: 'ERR_PICKER', name: 'PeerError' });
    await expect(failure).rejects.toThrow(message);
  });
});

describe('--super-seed', () => {
  it.each([
    ['auto', true, true],
    ['auto', false, false],
    ['on', false, true],
    ['on', true, true],
    ['off', true, false],
    ['off', false, false],
  ] as const)('%s with a rate-limited upload %p: super-seeding %p', (mode, limited, enabled) => {
    expect(superSeedEnabled(mode, limited)).toBe(enabled);
  });

  it('off: a second downloader asking for a claimed chunk while the upload is busy is served; on: refused', () => {
    const first = { isClosed: false };
    const second = { isClosed: false };
    const admitSecond = (mode: 'on' | 'off'): boolean => {
      const policy = new SeedingPolicy({ wholeFileChunks: () => 8, enabled: () => superSeedEnabled(mode, false) });
      expect(policy.admit('f', 3, first, true)).toBe(true);
      return policy.admit('f', 3, second, true);
    };
    expect(admitSecond('on')).toBe(false);
    expect(admitSecond('off')).toBe(true);
  });
});
