/** Errors of the exercise framework; callers branch on `code` (lab/errors.ts), never on the text. */
import { ERROR_CODES, LabError, type ScenarioIssue } from '../errors';

/** An exercise.yaml (or a hidden-variants file) that does not validate; each issue has its JSON pointer. */
export class ExerciseInvalidError extends LabError {
  readonly issues: ScenarioIssue[];

  constructor(issues: ScenarioIssue[], file: string) {
    const lines = issues.map((issue) => `  ${issue.instancePath === '' ? '/' : issue.instancePath}: ${issue.message}`);
    super(ERROR_CODES.EXERCISE_INVALID, `${file} is invalid:\n${lines.join('\n')}`);
    this.name = 'ExerciseInvalidError';
    this.issues = issues;
  }
}

/** A check that would not grade the exercise as written: a locked setting or scenario field was changed. */
export class ExerciseRefusedError extends LabError {
  constructor(message: string) {
    super(ERROR_CODES.EXERCISE_REFUSED, message);
    this.name = 'ExerciseRefusedError';
  }
}
