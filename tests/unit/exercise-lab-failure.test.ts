/**
 * A run the lab itself could not start (Docker unreachable, an image that cannot be built, a container
 * never ready) is an error, not a grade: no score against the student, every check "not run", the cause
 * in the grade and in `--json`. A submission that stops its own peer (a module that does not load: the
 * container exits while starting) still fails the `started` check.
 */
import { gradeJson, gradeRuns, labFailureOf, LAB_FAILURE_CODES, type RunRecord } from '../../lab/exercise/grade';
import type { ExerciseCheck } from '../../lab/exercise/schema';
import { ERROR_CODES } from '../../lab/errors';
import type { ScenarioReport } from '../../lab/report-types';

const CHECKS: ExerciseCheck[] = [
  { id: 'swarm-started', band: 'validity', kind: 'started', points: 1, hint: 'look at the logs' },
  { id: 'every-copy-verified', band: 'integrity', kind: 'verified', points: 3, hint: 'verify' },
  { id: 'scenario-assertions', band: 'robustness', kind: 'assertion', points: 1, hint: 'assert' },
];
const FACTS = { downloads: [{ peer: 'peer-2', file: 'payload.bin' }], assertSteps: [2] };

/** A run that never got to its first step, failing with `code`. */
function notStarted(code: string, message: string): RunRecord {
  const report: ScenarioReport = {
    scenario: 'x',
    ok: false,
    ms: 0,
    steps: [],
    downloads: [],
    error: { code, message },
  };
  return { events: [{ t: 0, seq: 0, at: 1, type: 'end', ok: false, ms: 0, error: message }], report };
}

/** A run whose steps all ran and held. */
function good(): RunRecord {
  const report: ScenarioReport = {
    scenario: 'x',
    ok: true,
    ms: 5000,
    steps: [
      { index: 0, action: 'connect', targets: ['peer-1', 'peer-2'], ok: true, startedAtMs: 0, ms: 10 },
      { index: 1, action: 'download', targets: ['peer-2'], ok: true, startedAtMs: 10, ms: 4000 },
      { index: 2, action: 'assert', targets: ['peer-2'], ok: true, startedAtMs: 4010, ms: 5 },
    ],
    downloads: [
      {
        peer: 'peer-2',
        file: 'payload.bin',
        bytes: 1024,
        sha256: 'a'.repeat(64),
        verified: true,
        chunksBySource: {},
        finishedAtMs: 4000,
      },
    ],
  };
  return { events: [], report };
}

const DOCKER_DOWN = 'docker list containers failed: connect ENOENT /var/run/docker.sock';

describe('a run the lab could not start', () => {
  it('is an error with its cause, not a grade: no score, every check not run', () => {
    const grade = gradeRuns({
      exercise: '06-x',
      checks: CHECKS,
      runs: [notStarted(ERROR_CODES.DOCKER, DOCKER_DOWN)],
      scenario: FACTS,
    });
    expect(grade.error).toEqual({ kind: 'infrastructure', code: 'ERR_LAB_DOCKER', message: DOCKER_DOWN, run: 0 });
    expect(grade).toMatchObject({ score: null, maxScore: 5, passed: false });
    expect(grade.checks.map((c) => c.status)).toEqual(['not-run', 'not-run', 'not-run']);
    expect(grade.checks.every((c) => c.hint === undefined && c.points === 0)).toBe(true);
    expect(grade.checks[0]!.words).toBe('not run: the lab failed to start run 1 (ERR_LAB_DOCKER), not your submission');
  });

  it('says so in --json: score null, and the error after passed', () => {
    const grade = gradeRuns({
      exercise: '06-x',
      checks: CHECKS,
      runs: [notStarted(ERROR_CODES.IMAGE_BUILD, 'build of swarmlab/peer:latest failed')],
      scenario: FACTS,
    });
    const json = gradeJson(grade, '/tmp/r/report.html').grade;
    expect(Object.keys(json)).toEqual(['exercise', 'score', 'maxScore', 'passed', 'error', 'checks', 'reportPath']);
    expect(json['score']).toBeNull();
    expect(json['error']).toMatchObject({ kind: 'infrastructure', code: 'ERR_IMAGE_BUILD' });
  });

  it('makes the whole grade an error when any one of the runs could not start', () => {
    const grade = gradeRuns({
      exercise: '06-x',
      checks: CHECKS,
      runs: [
        good(),
        notStarted(ERROR_CODES.HEALTH_TIMEOUT, 'x-peer-3 not healthy after 90000 ms (last state: created)'),
      ],
      scenario: FACTS,
    });
    expect(grade.error).toMatchObject({ code: 'ERR_LAB_HEALTH_TIMEOUT', run: 1 });
    expect(grade.score).toBeNull();
  });

  it.each([
    ERROR_CODES.DOCKER,
    ERROR_CODES.HEALTH_TIMEOUT,
    ERROR_CODES.MEMORY_EXCEEDED,
    ERROR_CODES.RUN_EXISTS,
    ERROR_CODES.IMAGE_NOT_FOUND,
    ERROR_CODES.BASE_IMAGE,
    ERROR_CODES.IMAGE_BUILD,
    ERROR_CODES.BUNDLE_BUILD,
    ERROR_CODES.DOCKER_STREAM,
  ])('%s before the first step is the lab failing', (code) => {
    expect(LAB_FAILURE_CODES.has(code)).toBe(true);
    expect(labFailureOf(notStarted(code, 'x'), 0)).toMatchObject({ kind: 'infrastructure', code });
  });
});

describe('a submission that fails is still graded', () => {
  it('a peer that exits while starting (its module does not load) fails the started check', () => {
    const message =
      'x-peer-2 exited while starting; last logs:\nswarmlab: --uploader /exercise/uploader.js: choose failed on a test round';
    const grade = gradeRuns({
      exercise: '06-x',
      checks: CHECKS,
      runs: [notStarted(ERROR_CODES.CONTAINER_EXITED, message)],
      scenario: FACTS,
    });
    expect(grade.error).toBeUndefined();
    expect(grade).toMatchObject({ score: 0, passed: false });
    expect(grade.checks[0]).toMatchObject({ status: 'failed', hint: 'look at the logs' });
    expect(grade.checks[0]!.words).toBe(`the swarm did not come up: ${message}`);
    expect(grade.checks[1]!.status).toBe('not-run');
    expect(Object.keys(gradeJson(grade, undefined).grade)).toEqual([
      'exercise',
      'score',
      'maxScore',
      'passed',
      'checks',
    ]);
  });

  it('a lab error after the steps began is graded as the run it was', () => {
    const broken = good();
    broken.report = { ...broken.report, ok: false, error: { code: ERROR_CODES.DOCKER, message: 'docker exec failed' } };
    expect(labFailureOf(broken, 0)).toBeUndefined();
    expect(gradeRuns({ exercise: '06-x', checks: CHECKS, runs: [broken], scenario: FACTS }).error).toBeUndefined();
  });

  it('a run that failed its steps is graded, not an error', () => {
    expect(labFailureOf(notStarted(ERROR_CODES.STEP_FAILED, 'step 1 failed'), 0)).toBeUndefined();
  });
});
