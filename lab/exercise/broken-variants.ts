/**
 * Broken swarms: the exercise's scenario with a fault the student's assertions must notice, built from
 * switches the peers already have (a peer's environment such as `SWARMLAB_FREE_RIDE`, or a step such as
 * `faults` or `disconnect` inserted at a given index). Pure; the result is validated like any scenario.
 */
import { listedPeers, validateScenario } from '../scenario/load';
import type { Scenario, ScenarioPeer, ScenarioStep } from '../scenario/schema';
import type { BrokenVariant } from './schema';

function peerList(scenario: Scenario): ScenarioPeer[] {
  return listedPeers(scenario).map((peer) => ({ ...peer }));
}

/** `scenario` broken as `variant` says, validated (`source` names it in an error). */
export function applyBrokenVariant(scenario: Scenario, variant: BrokenVariant, source: string): Scenario {
  const env = variant.env ?? {};
  const peers = peerList(scenario).map((peer) =>
    env[peer.name] === undefined ? peer : { ...peer, env: { ...peer.env, ...env[peer.name] } },
  );
  const at = Math.min(variant.at ?? scenario.steps.length, scenario.steps.length);
  const inserted = (variant.steps ?? []) as unknown as ScenarioStep[];
  const steps = [...scenario.steps.slice(0, at), ...inserted, ...scenario.steps.slice(at)];
  return validateScenario({ ...scenario, peers, steps }, `${source} (variant ${variant.name})`);
}
