/**
 * Every action of the scenario schema and the handler that carries it out. A new action in the schema's
 * `ScenarioStep` union does not compile until it has an entry here; its handler goes in `steps/` with its
 * family (containers, network, peer commands, downloads, assertions, timing).
 */
import type { StepHandler, StepHandlers } from './step-handler';
import type { ScenarioStep } from './schema';
import { assertStep } from './steps/assertions';
import { containerVerbStep } from './steps/container';
import { downloadStep, waitStep } from './steps/downloads';
import { connectNetworkStep, disconnectNetworkStep, healStep, linkStep, partitionStep } from './steps/network';
import {
  faultsStep,
  fillDiskStep,
  freeDiskStep,
  generateStep,
  publishStep,
  queryStep,
  rateStep,
  trackerLinkStep,
} from './steps/peer-commands';
import { sleepStep } from './steps/timing';

export const STEP_HANDLERS: StepHandlers = {
  start: containerVerbStep,
  stop: containerVerbStep,
  kill: containerVerbStep,
  pause: containerVerbStep,
  unpause: containerVerbStep,
  'disconnect-network': disconnectNetworkStep,
  'connect-network': connectNetworkStep,
  connect: trackerLinkStep,
  disconnect: trackerLinkStep,
  publish: publishStep,
  files: queryStep,
  status: queryStep,
  generate: generateStep,
  rate: rateStep,
  faults: faultsStep,
  'fill-disk': fillDiskStep,
  'free-disk': freeDiskStep,
  download: downloadStep,
  wait: waitStep,
  assert: assertStep,
  sleep: sleepStep,
  link: linkStep,
  partition: partitionStep,
  heal: healStep,
};

/** The handler of a step's action, typed for that step. */
export function handlerOf<S extends ScenarioStep>(step: S, handlers: StepHandlers = STEP_HANDLERS): StepHandler<S> {
  // The mapped type pairs each action with its step type; indexing it with a union loses that pairing.
  return handlers[step.action] as unknown as StepHandler<S>;
}
