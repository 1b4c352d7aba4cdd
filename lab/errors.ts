/**
 * Errors of the lab controller. Callers branch on `code`, never on the message text.
 */

/**
 * Every code the lab's errors carry, in one registry. The ERR_LAB_ codes belong to `LabError`s; the image
 * layer's errors (lab/images) keep their own codes, listed here too so that no code is written twice.
 */
export const ERROR_CODES = {
  USAGE: 'ERR_LAB_USAGE',
  SCENARIO_INVALID: 'ERR_LAB_SCENARIO_INVALID',
  SCENARIO_READ: 'ERR_LAB_SCENARIO_READ',
  RUN_EXISTS: 'ERR_LAB_RUN_EXISTS',
  RUN_NOT_FOUND: 'ERR_LAB_RUN_NOT_FOUND',
  UNKNOWN_PEER: 'ERR_LAB_UNKNOWN_PEER',
  DOCKER: 'ERR_LAB_DOCKER',
  HEALTH_TIMEOUT: 'ERR_LAB_HEALTH_TIMEOUT',
  CONTAINER_EXITED: 'ERR_LAB_CONTAINER_EXITED',
  CONTROL: 'ERR_LAB_CONTROL',
  CONTROL_CHANNEL: 'ERR_LAB_CONTROL_CHANNEL',
  CONTROL_TIMEOUT: 'ERR_LAB_CONTROL_TIMEOUT',
  STEP_FAILED: 'ERR_LAB_STEP_FAILED',
  ASSERTION: 'ERR_LAB_ASSERTION',
  ABORTED: 'ERR_LAB_ABORTED',
  TIMEOUT: 'ERR_LAB_TIMEOUT',
  SWARM_INACTIVE: 'ERR_LAB_SWARM_INACTIVE',
  UNSUPPORTED: 'ERR_LAB_UNSUPPORTED',
  TRIGGER_TIMEOUT: 'ERR_LAB_TRIGGER_TIMEOUT',
  MEMORY_EXCEEDED: 'ERR_LAB_MEMORY_EXCEEDED',
  TEARDOWN_INCOMPLETE: 'ERR_LAB_TEARDOWN_INCOMPLETE',
  RUN_RECORD_MISSING: 'ERR_LAB_RUN_RECORD_MISSING',
  RUN_RECORD_INVALID: 'ERR_LAB_RUN_RECORD_INVALID',
  // lab/experiment (`lab compare --vary`)
  VARY_UNKNOWN_KEY: 'ERR_LAB_VARY_UNKNOWN_KEY',
  VARY_BAD_VALUE: 'ERR_LAB_VARY_BAD_VALUE',
  IMAGE_NOT_FOUND: 'ERR_LAB_IMAGE_NOT_FOUND',
  EXERCISE_INVALID: 'ERR_LAB_EXERCISE_INVALID',
  EXERCISE_REFUSED: 'ERR_LAB_EXERCISE_REFUSED',
  // lab/images
  BASE_IMAGE: 'ERR_BASE_IMAGE',
  IMAGE_BUILD: 'ERR_IMAGE_BUILD',
  BUNDLE_BUILD: 'ERR_BUNDLE_BUILD',
  DOCKER_STREAM: 'ERR_DOCKER_STREAM',
  // lab/observe
  DASHBOARD_CLIENT_MISSING: 'ERR_DASHBOARD_CLIENT_MISSING',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];
export type LabErrorCode = Extract<ErrorCode, `ERR_LAB_${string}`>;

/** The code prefix of node:util parseArgs failures (a Node error, not ours). */
export const NODE_PARSE_ARGS_CODE_PREFIX = 'ERR_PARSE_ARGS';

export class LabError extends Error {
  readonly code: LabErrorCode;

  constructor(code: LabErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = 'LabError';
  }
}

/** Bad command line: unknown command, missing or malformed option. */
export class UsageError extends LabError {
  constructor(message = 'invalid usage', options?: ErrorOptions) {
    super(ERROR_CODES.USAGE, message, options);
    this.name = 'UsageError';
  }
}

/** A run that would need more memory than the machine has available (lab/memory-estimate.ts). */
export class MemoryExceededError extends LabError {
  constructor(message: string) {
    super(ERROR_CODES.MEMORY_EXCEEDED, message);
    this.name = 'MemoryExceededError';
  }
}

export interface ScenarioIssue {
  /** JSON pointer to the offending field, as ajv reports it (`/steps/3/peer`); '' for the root. */
  instancePath: string;
  message: string;
}

/** A scenario file that does not match the schema or refers to things that do not exist. */
export class ScenarioInvalidError extends LabError {
  readonly issues: ScenarioIssue[];
  readonly file: string | undefined;

  constructor(issues: ScenarioIssue[], file?: string) {
    const where = file === undefined ? 'scenario' : `scenario ${file}`;
    const lines = issues.map((issue) => `  ${issue.instancePath === '' ? '/' : issue.instancePath}: ${issue.message}`);
    super(ERROR_CODES.SCENARIO_INVALID, `${where} is invalid:\n${lines.join('\n')}`);
    this.name = 'ScenarioInvalidError';
    this.issues = issues;
    this.file = file;
  }
}

export class ScenarioReadError extends LabError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.SCENARIO_READ, message, options);
    this.name = 'ScenarioReadError';
  }
}

export class RunExistsError extends LabError {
  constructor(run: string) {
    super(ERROR_CODES.RUN_EXISTS, `run "${run}" already exists (remove it with: npm run lab -- down --run ${run})`);
    this.name = 'RunExistsError';
  }
}

export class RunNotFoundError extends LabError {
  constructor(run: string) {
    super(ERROR_CODES.RUN_NOT_FOUND, `no run named "${run}"`);
    this.name = 'RunNotFoundError';
  }
}

export class UnknownPeerError extends LabError {
  constructor(peer: string) {
    super(ERROR_CODES.UNKNOWN_PEER, `unknown peer "${peer}"`);
    this.name = 'UnknownPeerError';
  }
}

/** A Docker Engine call failed; `statusCode` is the engine's HTTP status when there is one. */
export class DockerError extends LabError {
  readonly statusCode: number | undefined;

  constructor(operation: string, cause: unknown) {
    const statusCode = statusCodeOf(cause);
    super(ERROR_CODES.DOCKER, `docker ${operation} failed: ${messageOf(cause)}`, { cause });
    this.name = 'DockerError';
    this.statusCode = statusCode;
  }
}

export class HealthTimeoutError extends LabError {
  constructor(container: string, timeoutMs: number, lastState: string) {
    super(ERROR_CODES.HEALTH_TIMEOUT, `${container} not healthy after ${timeoutMs} ms (last state: ${lastState})`);
    this.name = 'HealthTimeoutError';
  }
}

/**
 * A container exited (or died) before it was ready: what it ran stopped it, such as a peer whose picker or
 * uploader module does not load. Told apart from HealthTimeoutError (never ready, still running), which
 * is the lab's or the machine's trouble, so that an exercise grade can tell a student's failure from
 * the lab's.
 */
export class ContainerExitedError extends LabError {
  constructor(container: string, state: string, lastLogs: string) {
    super(ERROR_CODES.CONTAINER_EXITED, `${container} ${state} while starting; last logs:\n${lastLogs}`);
    this.name = 'ContainerExitedError';
  }
}

/**
 * A peer's own error codes that mean "not now" rather than "no": its tracker link is down and reconnecting
 * (src/peer/tracker-client.ts), or a request on it was cut or went unanswered. A step that waits for a
 * state retries on them instead of failing.
 */
export const TRANSIENT_PEER_CODES: ReadonlySet<string> = new Set([
  'ERR_TRACKER_UNAVAILABLE',
  'ERR_TRACKER_UNREACHABLE',
  'ERR_CONNECTION_CLOSED',
  'ERR_REQUEST_TIMEOUT',
]);

type ControlErrorCode =
  typeof ERROR_CODES.CONTROL | typeof ERROR_CODES.CONTROL_CHANNEL | typeof ERROR_CODES.CONTROL_TIMEOUT;

/** A peer answered a control request with `ok: false`, or did not answer at all (see the subclasses). */
export class ControlError extends LabError {
  /** The peer's own error code (`ERR_...`) when it answered, else undefined. */
  readonly peerCode: string | undefined;
  readonly exitCode: number | undefined;

  constructor(message: string, init: { peerCode?: string; exitCode?: number; code?: ControlErrorCode } = {}) {
    super(init.code ?? ERROR_CODES.CONTROL, message);
    this.name = 'ControlError';
    this.peerCode = init.peerCode;
    this.exitCode = init.exitCode;
  }

  /** The peer said "not now" (see TRANSIENT_PEER_CODES), or no answer came back at all. */
  get transient(): boolean {
    return this.peerCode === undefined || TRANSIENT_PEER_CODES.has(this.peerCode);
  }
}

/**
 * A peer's control channel could not be opened, or closed with this request in flight and could not carry
 * it again (it was already sent, and sending it twice is not safe, or a second channel died too).
 */
export class ControlChannelError extends ControlError {
  constructor(message: string) {
    super(message, { code: ERROR_CODES.CONTROL_CHANNEL });
    this.name = 'ControlChannelError';
  }
}

/** A control request got no answer in its time (the peer is alive enough to keep the channel, not to answer). */
export class ControlTimeoutError extends ControlError {
  constructor(message: string) {
    super(message, { code: ERROR_CODES.CONTROL_TIMEOUT });
    this.name = 'ControlTimeoutError';
  }
}

export class StepFailedError extends LabError {
  readonly stepIndex: number;

  constructor(stepIndex: number, action: string, cause: unknown) {
    super(ERROR_CODES.STEP_FAILED, `step ${stepIndex + 1} (${action}) failed: ${messageOf(cause)}`, { cause });
    this.name = 'StepFailedError';
    this.stepIndex = stepIndex;
  }
}

export class AssertionFailedError extends LabError {
  constructor(message: string) {
    super(ERROR_CODES.ASSERTION, message);
    this.name = 'AssertionFailedError';
  }
}

export class AbortedError extends LabError {
  constructor(message = 'aborted') {
    super(ERROR_CODES.ABORTED, message);
    this.name = 'AbortedError';
  }
}

/**
 * A teardown that ended (every call answered, failed, or ran past its deadline) with containers or
 * networks of the run still there. `left` names them; `cause` is the first failure.
 */
export class TeardownIncompleteError extends LabError {
  readonly left: { containers: string[]; networks: string[] };

  constructor(run: string, left: { containers: string[]; networks: string[] }, detail: string, options?: ErrorOptions) {
    const what = [
      left.containers.length > 0 ? `${left.containers.length} container(s) (${preview(left.containers)})` : '',
      left.networks.length > 0 ? `network(s) ${preview(left.networks)}` : '',
    ]
      .filter((part) => part !== '')
      .join(' and ');
    super(
      ERROR_CODES.TEARDOWN_INCOMPLETE,
      `teardown of ${run} left ${what || 'nothing it could confirm'}: ${detail}; ` +
        `remove them with: npm run lab -- down ${run === '(all)' ? '--all' : `--run ${run}`}`,
      options,
    );
    this.name = 'TeardownIncompleteError';
    this.left = left;
  }
}

function preview(names: string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')}, ...`;
}

export class LabTimeoutError extends LabError {
  constructor(message: string) {
    super(ERROR_CODES.TIMEOUT, message);
    this.name = 'LabTimeoutError';
  }
}

/** A step's `when:` condition did not hold within its `within` seconds. */
export class TriggerTimeoutError extends LabError {
  constructor(message: string) {
    super(ERROR_CODES.TRIGGER_TIMEOUT, message);
    this.name = 'TriggerTimeoutError';
  }
}

/** `--engine swarm` on a daemon that is not a Swarm manager. */
export class SwarmInactiveError extends LabError {
  constructor(state: string) {
    super(
      ERROR_CODES.SWARM_INACTIVE,
      `--engine swarm needs this Docker daemon to be a Swarm manager (node state: ${state}); ` +
        'start a single-node swarm with: docker swarm init --advertise-addr 127.0.0.1',
    );
    this.name = 'SwarmInactiveError';
  }
}

/** An operation this engine cannot carry out (e.g. exec into a Swarm task on another node). */
export class UnsupportedError extends LabError {
  constructor(message: string) {
    super(ERROR_CODES.UNSUPPORTED, message);
    this.name = 'UnsupportedError';
  }
}

/** The run has no network to (dis)connect a container to. */
export class RunHasNoNetworkError extends LabError {
  constructor() {
    super(ERROR_CODES.RUN_NOT_FOUND, 'the run has no network');
    this.name = 'RunHasNoNetworkError';
  }
}

/** A run folder (or path) given to `run` or `diff` that holds no run.json. */
export class RunRecordMissingError extends LabError {
  readonly path: string;

  constructor(path: string, options?: ErrorOptions) {
    super(ERROR_CODES.RUN_RECORD_MISSING, `${path} holds no run.json (is it a run folder under lab/runs?)`, options);
    this.name = 'RunRecordMissingError';
    this.path = path;
  }
}

/** A run.json that does not parse or does not match its schema; `issues` point at the offending fields. */
export class RunRecordInvalidError extends LabError {
  readonly path: string;
  readonly issues: ScenarioIssue[];

  constructor(path: string, issues: ScenarioIssue[]) {
    const lines = issues.map((issue) => `  ${issue.instancePath === '' ? '/' : issue.instancePath}: ${issue.message}`);
    super(ERROR_CODES.RUN_RECORD_INVALID, `${path} is not a valid run record:\n${lines.join('\n')}`);
    this.name = 'RunRecordInvalidError';
    this.path = path;
    this.issues = issues;
  }
}

/** `err` as a LabError: itself when it is one, else a step failure carrying its message. */
export function asLabError(err: unknown): LabError {
  return err instanceof LabError ? err : new LabError(ERROR_CODES.STEP_FAILED, messageOf(err));
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const code = (err as { statusCode: unknown }).statusCode;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}
