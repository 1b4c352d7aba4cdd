/**
 * Applying a `lab compare` variant to a scenario: settings reach every peer (or one) through
 * `peerDefaults` and `env`, `image` becomes the peers' image, and the run seed decides generated files.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { ERROR_CODES, ScenarioInvalidError } from '../../lab/errors';
import { applyVariant } from '../../lab/experiment/apply-variant';
import { expandVariants, parseVary } from '../../lab/experiment/vary';
import { loadScenario, scenarioPeers, validateScenario } from '../../lab/scenario/load';
import type { Scenario } from '../../lab/scenario/schema';

const EXPERIMENTS_DIR = join(__dirname, '..', '..', 'lab', 'experiments');

function scenario(extra: Partial<Scenario> = {}): Scenario {
  return validateScenario({
    name: 'unit',
    peers: 3,
    steps: [
      { action: 'generate', peer: 'peer-1', file: 'a.bin', size: 1024 },
      { action: 'generate', peer: 'peer-2', file: 'b.bin', size: 1024, seed: 'fixed' },
      { action: 'download', peer: 'peer-3', file: 'a.bin' },
    ],
    ...extra,
  });
}

function envOf(s: Scenario, peer: string): Record<string, string> {
  return scenarioPeers(s).find((p) => p.name === peer)?.env ?? {};
}

function applied(base: Scenario, ...specs: string[]): ReturnType<typeof applyVariant>[] {
  const axes = specs.map(parseVary);
  return expandVariants(axes).map((variant) => applyVariant(base, axes, variant));
}

describe('applyVariant', () => {
  it('sets a setting for every peer through peerDefaults', () => {
    const [rarest, sequential] = applied(scenario(), 'picker=rarest,sequential');
    expect(sequential!.scenario.peerDefaults).toEqual({ picker: 'sequential' });
    for (const peer of ['peer-1', 'peer-2', 'peer-3']) {
      expect(envOf(rarest!.scenario, peer)['SWARMLAB_PICKER']).toBe('rarest');
      expect(envOf(sequential!.scenario, peer)['SWARMLAB_PICKER']).toBe('sequential');
    }
    expect(sequential!.peerImages).toEqual({});
  });

  it("keeps the scenario's other defaults and overrides a peer's own env for the same setting", () => {
    const base = scenario({
      peers: [{ name: 'peer-1', env: { SWARMLAB_ENDGAME: 'on', OTHER: 'x' } }, { name: 'peer-2' }],
      peerDefaults: { superSeed: 'off', endgame: 'on' },
      steps: [{ action: 'generate', peer: 'peer-1', file: 'a.bin', size: 1024 }],
    });
    const [, off] = applied(base, 'endgame=on,off');
    expect(envOf(off!.scenario, 'peer-1')).toMatchObject({
      SWARMLAB_ENDGAME: 'off',
      OTHER: 'x',
      SWARMLAB_SUPER_SEED: 'off',
    });
    expect(envOf(off!.scenario, 'peer-2')).toMatchObject({ SWARMLAB_ENDGAME: 'off', SWARMLAB_SUPER_SEED: 'off' });
    // The input scenario is left as it was.
    expect(base.peerDefaults).toEqual({ superSeed: 'off', endgame: 'on' });
    expect(typeof base.peers === 'number' ? undefined : base.peers[0]!.env).toEqual({
      SWARMLAB_ENDGAME: 'on',
      OTHER: 'x',
    });
  });

  it('sets a setting for one peer in its env, winning over the same setting for every peer', () => {
    const variants = applied(scenario(), 'peer-2.picker=random', 'picker=sequential');
    const s = variants[0]!.scenario;
    expect(envOf(s, 'peer-1')['SWARMLAB_PICKER']).toBe('sequential');
    expect(envOf(s, 'peer-2')['SWARMLAB_PICKER']).toBe('random');
    expect(envOf(s, 'peer-3')['SWARMLAB_PICKER']).toBe('sequential');
  });

  it("varies the scenario's own top-level chunkSize rather than adding a second one", () => {
    const [small] = applied(scenario({ chunkSize: 65536 }), 'chunkSize=16K');
    expect(small!.scenario.chunkSize).toBe(16384);
    expect(small!.scenario.peerDefaults?.chunkSize).toBeUndefined();
    const [viaDefaults] = applied(scenario(), 'chunkSize=16K');
    expect(envOf(viaDefaults!.scenario, 'peer-1')['SWARMLAB_CHUNK_SIZE']).toBe('16384');
  });

  it('maps image to every peer, or to one', () => {
    const [all] = applied(scenario(), 'image=swarmlab/peer:candidate');
    expect(all!.peerImages).toEqual({
      'peer-1': 'swarmlab/peer:candidate',
      'peer-2': 'swarmlab/peer:candidate',
      'peer-3': 'swarmlab/peer:candidate',
    });
    const [one] = applied(scenario(), 'peer-2.image=swarmlab/peer:old');
    expect(one!.peerImages).toEqual({ 'peer-2': 'swarmlab/peer:old' });
    expect(one!.scenario.peerDefaults).toBeUndefined();
  });

  it('refuses a peer the scenario does not have with ERR_LAB_VARY_UNKNOWN_KEY', () => {
    expect(() => applied(scenario(), 'peer-9.picker=random')).toThrow(
      expect.objectContaining({ code: ERROR_CODES.VARY_UNKNOWN_KEY }),
    );
  });

  it('validates the result like a loaded scenario', () => {
    const base = scenario({
      peers: [{ name: 'peer-1' }, { name: 'peer-2' }, { name: 'peer-3', env: { SWARMLAB_PICKER: 'rarest' } }],
    });
    // Made-up: a value no schema accepts reaches validation (parseVary would have refused it first).
    const axes = [{ name: 'maxInflight', key: 'maxInflight' as const, values: [0] }];
    expect(() => applyVariant(base, axes, { maxInflight: 0 })).toThrow(ScenarioInvalidError);
  });
});

describe('shipped experiments', () => {
  const files = readdirSync(EXPERIMENTS_DIR).filter((f) => f.endsWith('.yaml'));

  it('ships pickers, endgame and super-seeding', () => {
    expect(files.sort()).toEqual(['endgame.yaml', 'pickers.yaml', 'super-seeding.yaml']);
  });

  it.each(files)('%s is a valid scenario whose every peer has an upload rate (so it has a minimum)', async (file) => {
    const s = await loadScenario(join(EXPERIMENTS_DIR, file));
    expect(scenarioPeers(s).every((peer) => peer.uploadRate !== undefined)).toBe(true);
  });

  it.each([
    ['pickers.yaml', 'picker=rarest,random,sequential'],
    ['endgame.yaml', 'endgame=on,off'],
    ['super-seeding.yaml', 'superSeed=on,off'],
  ])('%s takes --vary %s', async (file, spec) => {
    const s = await loadScenario(join(EXPERIMENTS_DIR, file));
    expect(applied(s, spec)).toHaveLength(spec.split(',').length);
  });
});
