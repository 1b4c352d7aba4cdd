/** Steps about time rather than about the swarm. Triggers (`when:`, wait until) belong here too. */
import { sleep } from '../../abort';
import type { StepHandler } from '../step-handler';
import type { SleepStep } from '../schema';

export const sleepStep: StepHandler<SleepStep> = {
  describe: (step) => `sleep ${step.seconds} s`,
  run: (step, _targets, _ctx, signal) => sleep(step.seconds * 1000, signal),
};
