/**
 * Turns a scenario and one variant into the scenario that variant runs: peer settings go through the
 * scenario's own mechanism (`peerDefaults` for every peer, a peer's `env` for one peer), and `image`
 * becomes the peer image each container starts from. Pure; the result is validated like a loaded file.
 */
import { listedPeers, validateScenario } from '../scenario/load';
import { PEER_SETTING_ENV } from '../scenario/peer-defaults';
import type { Scenario, ScenarioPeer } from '../scenario/schema';
import { VaryKeyError } from './errors';
import type { PeerSettingKey, Variant, VaryAxis, VaryValue } from './vary';

export interface AppliedVariant {
  scenario: Scenario;
  /** Peer name to image tag, for the peers this variant starts from another image; empty: the run's images. */
  peerImages: Record<string, string>;
}

/** The scenario's peers as a list (`peers: 3` is peer-1..peer-3), copied so that they can be changed. */
function peerList(scenario: Scenario): ScenarioPeer[] {
  return listedPeers(scenario).map((peer) => ({
    ...peer,
    ...(peer.env === undefined ? {} : { env: { ...peer.env } }),
  }));
}

/**
 * `scenario` with `variant` applied. A setting for every peer overrides what the scenario sets for it,
 * `peerDefaults` and each peer's own `env` alike (the variant is the experiment); a setting for one peer
 * (`peer-3.picker`) is applied last, so it wins over one for every peer.
 */
export function applyVariant(scenario: Scenario, axes: readonly VaryAxis[], variant: Variant): AppliedVariant {
  const peers = peerList(scenario);
  const names = peers.map((peer) => peer.name);
  const result: Scenario = structuredClone(scenario);
  const peerImages: Record<string, string> = {};
  let peersChanged = false;
  const ordered = [
    ...axes.filter((axis) => axis.peer === undefined),
    ...axes.filter((axis) => axis.peer !== undefined),
  ];
  for (const axis of ordered) {
    const value: VaryValue | undefined = variant[axis.name];
    if (value === undefined) continue;
    if (axis.peer !== undefined && !names.includes(axis.peer)) {
      throw new VaryKeyError(
        `--vary ${axis.name}: the scenario has no peer "${axis.peer}" (peers: ${names.join(', ')})`,
      );
    }
    const targets = axis.peer === undefined ? names : [axis.peer];
    if (axis.key === 'image') {
      for (const name of targets) peerImages[name] = String(value);
      continue;
    }
    const variable = PEER_SETTING_ENV[axis.key];
    if (axis.peer === undefined) {
      setForEveryPeer(result, axis.key, value);
      for (const peer of peers) {
        if (peer.env?.[variable] !== undefined) {
          peer.env[variable] = String(value);
          peersChanged = true;
        }
      }
    } else {
      const peer = peers.find((p) => p.name === axis.peer)!;
      peer.env = { ...peer.env, [variable]: String(value) };
      peersChanged = true;
    }
  }
  if (peersChanged) result.peers = peers;
  return { scenario: validateScenario(result), peerImages };
}

function setForEveryPeer(scenario: Scenario, key: PeerSettingKey, value: VaryValue): void {
  // The scenario's own top-level `chunkSize` and `peerDefaults.chunkSize` exclude each other (load.ts).
  if (key === 'chunkSize' && scenario.chunkSize !== undefined) {
    scenario.chunkSize = Number(value);
    return;
  }
  scenario.peerDefaults = { ...scenario.peerDefaults, [key]: value };
}
