/**
 * Steps on the run's network: a container leaves it (a partition) or rejoins it. Link shaping and other
 * network faults belong here too.
 */
import { TRACKER_NAME } from '../../constants';
import { RunHasNoNetworkError } from '../../errors';
import { each, describeAction, refreshNode, type StepContext, type StepHandler } from '../step-handler';
import type { NetworkStep } from '../schema';

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
  async run(_step, targets, ctx) {
    await each(targets, async (name) => {
      const aliases = name === TRACKER_NAME ? [TRACKER_NAME] : [name];
      await ctx.docker.connectNetwork(networkId(ctx), ctx.run.container(name).id, aliases);
      const fresh = await refreshNode(ctx, name);
      ctx.printer.info(`${name} is back on the network at ${fresh.ip ?? '?'}`);
    });
  },
};

function networkId(ctx: StepContext): string {
  if (ctx.run.network === undefined) throw new RunHasNoNetworkError();
  return ctx.run.network.id;
}
