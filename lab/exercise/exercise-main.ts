/**
 * `npm run lab -- exercise SUBCOMMAND`: parses the exercise subcommands' arguments (main.ts parses the
 * flags once for every command) and calls lab/exercise/exercise-command.ts.
 */
import type { CommandContext } from '../commands';
import { UsageError } from '../errors';
import type { DashboardOptions } from '../observe/dashboard-command';
import {
  exerciseCheckCommand,
  exerciseGradeCommand,
  exerciseListCommand,
  exerciseShowCommand,
  exerciseStartCommand,
  parseSettings,
} from './exercise-command';

export const EXERCISE_USAGE = `  exercise list                      the exercises (lab/exercises) and what each lets you change
  exercise show ID [--student S]     goal, what you may change, thresholds, your parameters and their bound
  exercise start ID [--dir DIR]      copy the starter to DIR (default ./exercise-ID), bring a swarm up with
                                     the dashboard
  exercise check ID [--picker PATH] [--uploader PATH] [--set NAME=N] [--scenario FILE] [--assertions FILE]
                                     [--runs K] [--json]
                                     run the exercise on fresh containers K times and grade it; writes
                                     grade.json and a Grade section into the run report; exit 0 only when
                                     every check passes, 3 when the lab itself failed (no grade)
  exercise grade ID --submissions DIR [--hidden FILE] [--csv] [--runs K]
                                     one row per submission (a module, or a folder with a module,
                                     settings.yaml, scenario.yaml or assertions.yaml); hidden variants
                                     count passes only`;

export interface ExerciseFlags {
  json: boolean;
  picker?: string;
  assertions?: string;
  uploader?: string;
  runs?: string;
  set?: string[];
  scenario?: string;
  student?: string;
  seed?: string;
  submissions?: string;
  hidden?: string;
  csv: boolean;
  dir?: string;
  run?: string;
  'report-dir'?: string;
  dashboard: DashboardOptions | undefined;
}

function count(value: string | undefined, option: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new UsageError(`${option} must be an integer from 1 to ${max}, got "${value}"`);
  }
  return Number(value);
}

export async function exerciseCommand(ctx: CommandContext, args: string[], flags: ExerciseFlags): Promise<number> {
  const [sub, id] = args;
  const needId = (): string => {
    if (id === undefined)
      throw new UsageError(`exercise ${sub ?? ''} needs an exercise ID (see: npm run lab -- exercise list)`);
    return id;
  };
  if (flags.seed !== undefined && !/^\d{1,10}$/.test(flags.seed))
    throw new UsageError(`--seed must be a number, got "${flags.seed}"`);
  const seed = flags.seed === undefined ? undefined : Number(flags.seed);
  const who = {
    ...(flags.student === undefined ? {} : { student: flags.student }),
    ...(seed === undefined ? {} : { seed }),
  };
  const runs = count(flags.runs, '--runs', 9);
  const reportDir = flags['report-dir'];
  switch (sub) {
    case 'list':
      return exerciseListCommand(ctx);
    case 'show':
      return exerciseShowCommand(ctx, needId(), who);
    case 'start':
      return exerciseStartCommand(ctx, needId(), {
        ...(flags.dir === undefined ? {} : { dir: flags.dir }),
        ...(flags.run === undefined ? {} : { run: flags.run }),
        dashboard: flags.dashboard ?? {},
      });
    case 'check':
      return exerciseCheckCommand(ctx, needId(), {
        ...who,
        json: flags.json,
        ...(flags.picker === undefined ? {} : { picker: flags.picker }),
        ...(flags.assertions === undefined ? {} : { assertionsFile: flags.assertions }),
        ...(flags.uploader === undefined ? {} : { uploader: flags.uploader }),
        ...(flags.set === undefined ? {} : { settings: parseSettings(flags.set) }),
        ...(flags.scenario === undefined ? {} : { scenarioFile: flags.scenario }),
        ...(runs === undefined ? {} : { runs }),
        ...(reportDir === undefined ? {} : { reportDir }),
        ...(flags.run === undefined ? {} : { runPrefix: flags.run }),
      });
    case 'grade':
      if (flags.submissions === undefined) throw new UsageError('exercise grade needs --submissions DIR');
      return exerciseGradeCommand(ctx, needId(), {
        submissions: flags.submissions,
        csv: flags.csv,
        json: flags.json,
        ...(flags.hidden === undefined ? {} : { hidden: flags.hidden }),
        ...(runs === undefined ? {} : { runs }),
        ...(reportDir === undefined ? {} : { reportDir }),
      });
    default:
      throw new UsageError(`unknown exercise command "${sub ?? ''}" (list, show, start, check, grade)`);
  }
}
