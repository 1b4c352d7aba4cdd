/** Steps that act on containers through the engine: one handler for the five Docker verbs. */
import { each, describeAction, refreshNode, type StepHandler } from '../step-handler';
import type { ContainerStep } from '../schema';

/** `start`, `stop`, `kill`, `pause`, `unpause`: the verb on each target, then its new state recorded. */
export const containerVerbStep: StepHandler<ContainerStep> = {
  describe: describeAction,
  async run(step, targets, ctx, signal) {
    await each(targets, async (name) => {
      await ctx.docker[step.action](ctx.run.container(name).id);
      // A restarted peer answers its control socket only once it is ready again.
      if (step.action === 'start' && ctx.waitReady !== undefined) await ctx.waitReady(ctx.run, name, signal);
      await refreshNode(ctx, name);
      // A started container has a new network namespace and process: its links are set again.
      if (step.action === 'start') await ctx.network.restore(name, signal);
    });
  },
};
