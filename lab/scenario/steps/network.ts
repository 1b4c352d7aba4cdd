/**
 * Steps on the run's network: a container leaves it (a partition) or rejoins it, and a link's
 * conditions change (`link`, through the run's network, lab/network/run-network.ts).
 */
import { TRACKER_NAME } from '../../constants';
import { RunHasNoNetworkError } from '../../errors';
import { each, describeAction, refreshNode, type StepContext, type StepHandler } from '../step-handler';
import { namedConditions, type LinkConditions } from '../../network/resolve';
import type { HealStep, LinkStep, NetworkStep, PartitionStep } from '../schema';

export const disconnectNetworkStep: StepHandler<NetworkStep> = {
  describe: describeAction,
  async run(_step, targets, ctx) {
    await each(targets, async (name) => {
      await ctx.docker.disconnectNetwork(networkId(ctx), ctx.run.container(name).id);
      await refreshNode(ctx, name);
    });
  },
};

export const connectNetworkStep: StepHandler<NetworkStep> = {
  describe: describeAction,
  async run(_step, targets, ctx, signal) {
    await each(targets, async (name) => {
      const aliases = name === TRACKER_NAME ? [TRACKER_NAME] : [name];
      await ctx.docker.connectNetwork(networkId(ctx), ctx.run.container(name).id, aliases);
      const fresh = await refreshNode(ctx, name);
      ctx.printer.info(`${name} is back on the network at ${fresh.ip ?? '?'}`);
      // Its address may have changed: the links to it and its filter follow.
      await ctx.network.restore(name, signal);
    });
  },
};

function networkId(ctx: StepContext): string {
  if (ctx.run.network === undefined) throw new RunHasNoNetworkError();
  return ctx.run.network.id;
}

/** `link between [peer-1, peer-2] latencyMs=150`: the fields the step names, on every pair it covers. */
export const linkStep: StepHandler<LinkStep> = {
  describe: (step) => `link ${step.between.join(' <-> ')} ${formatConditions(namedConditions(step))}`,
  async run(step, _targets, ctx, signal) {
    const changes = namedConditions(step);
    const pairs = await ctx.network.change(step.between, changes, signal);
    if ((changes.lossPercent ?? 0) > 0 && ctx.network.enforcement.loss === 'unsupported') {
      ctx.printer.info(`link: lossPercent is not enforced on this host (${pairs.length} links keep no loss)`);
    }
  },
};

function formatConditions(conditions: Partial<LinkConditions>): string {
  return Object.entries(conditions)
    .map(([key, value]) => `${key}=${value === null ? 'off' : String(value)}`)
    .join(',');
}

/** `partition [peer-1, peer-3] | [peer-2]`: packet filters between the sides; healed when the scenario ends. */
export const partitionStep: StepHandler<PartitionStep> = {
  describe: (step) => `partition ${step.groups.map((side) => `[${side.join(', ')}]`).join(' | ')}`,
  async run(step, _targets, ctx, signal) {
    await ctx.network.partition(step.groups, signal);
  },
  async heal(_step, _targets, ctx, signal) {
    await ctx.network.heal(signal);
  },
};

export const healStep: StepHandler<HealStep> = {
  describe: () => 'heal the partition',
  async run(_step, _targets, ctx, signal) {
    await ctx.network.heal(signal);
  },
};
