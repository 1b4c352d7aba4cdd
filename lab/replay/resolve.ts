/**
 * The fully resolved form of a scenario: what the runner executes and what run.json records. Scenario-level
 * defaults are written out, `peers` is the explicit list with `peerDefaults` applied under each peer's own
 * `env` (so `peerDefaults` itself is dropped), and steps stay as written: their seeds come from the run
 * seed at run time (seed.ts). The `network` section stays as it is (its access links are applied when the
 * run starts). Resolving a resolved scenario changes nothing, so a replay of run.json resolves to the
 * very same object.
 */
import { peerDefaultsEnv } from '../scenario/peer-defaults';
import { DEFAULT_SCENARIO_TIMEOUT_S } from '../scenario/runner';
import type { Scenario, ScenarioPeer } from '../scenario/schema';

export function resolveScenario(scenario: Scenario): Scenario {
  const { peerDefaults, ...rest } = scenario;
  const listed =
    typeof scenario.peers === 'number'
      ? Array.from({ length: scenario.peers }, (_, i): ScenarioPeer => ({ name: `peer-${i + 1}` }))
      : scenario.peers;
  const hasDefaults = peerDefaults !== undefined && Object.keys(peerDefaults).length > 0;
  return {
    ...rest,
    peers: hasDefaults ? listed.map((peer) => ({ ...peer, env: peerDefaultsEnv(peerDefaults, peer.env) })) : listed,
    autoConnect: scenario.autoConnect ?? false,
    timeoutSeconds: scenario.timeoutSeconds ?? DEFAULT_SCENARIO_TIMEOUT_S,
  };
}
