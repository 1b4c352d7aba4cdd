/**
 * Loads a scenario file (YAML or JSON) and validates it completely before anything starts: first the
 * JSON Schema (ajv), then the cross-references a schema cannot check. Every problem is reported with the
 * JSON pointer of the offending field (ajv's `instancePath`).
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

import Ajv, { type ErrorObject } from 'ajv';
import YAML from 'yaml';

import { TRACKER_NAME } from '../constants';
import { ScenarioInvalidError, ScenarioReadError, type ScenarioIssue } from '../errors';
import {
  ACTIONS,
  ASSERT_CHECKS,
  MAX_PEERS,
  PEER_ACTIONS,
  SCENARIO_SCHEMA,
  type Scenario,
  type ScenarioPeer,
  type ScenarioStep,
} from './schema';
import { whenIssues } from '../trigger/check';
import { HOLDER_REF } from '../trigger/compile';
import { accessLinks } from '../network/resolve';
import { LINK_FIELDS } from '../network/network-schema';
import { checkBetween, checkNetwork, checkPartition } from '../network/validate';
import { peerDefaultsEnv } from './peer-defaults';

const ajv = new Ajv({
  allErrors: true,
  discriminator: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
});
const validateSchema = ajv.compile<Scenario>(SCENARIO_SCHEMA);

/** Reads, parses and validates a scenario file. */
export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ScenarioReadError(`cannot read scenario ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseScenario(text, path);
}

/** Parses scenario text (JSON when the file ends in .json, YAML otherwise) and validates it. */
export function parseScenario(text: string, file?: string): Scenario {
  let data: unknown;
  try {
    if (file !== undefined && extname(file).toLowerCase() === '.json') data = JSON.parse(text);
    else data = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ScenarioReadError(
      `cannot parse scenario${file === undefined ? '' : ` ${file}`}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return validateScenario(data, file);
}

/** Validates parsed data; returns it typed as a Scenario or throws `ScenarioInvalidError`. */
export function validateScenario(data: unknown, file?: string): Scenario {
  if (!validateSchema(data)) {
    throw new ScenarioInvalidError(explainSchemaErrors(validateSchema.errors ?? [], data), file);
  }
  const issues = checkReferences(data);
  if (issues.length > 0) throw new ScenarioInvalidError(issues, file);
  return data;
}

/** The scenario's peers as a list, `peer-1`..`peer-N` when given as a count, with `peerDefaults` in their env. */
/** The scenario's peers as written, a count (`peers: 3`) spelled out as peer-1..peer-3. */
export function listedPeers(scenario: Scenario): ScenarioPeer[] {
  return typeof scenario.peers === 'number'
    ? Array.from({ length: scenario.peers }, (_, i): ScenarioPeer => ({ name: `peer-${i + 1}` }))
    : scenario.peers;
}

export function scenarioPeers(scenario: Scenario): ScenarioPeer[] {
  const peers = listedPeers(scenario);
  const withAccess = withAccessLinks(peers, scenario.network);
  if (scenario.peerDefaults === undefined || Object.keys(scenario.peerDefaults).length === 0) return withAccess;
  return withAccess.map((peer) => ({ ...peer, env: peerDefaultsEnv(scenario.peerDefaults, peer.env) }));
}

/** A peer's access link (`network.peers`) is its upload and download rate (null: uncapped, as if unset). */
function withAccessLinks(peers: ScenarioPeer[], network: Scenario['network']): ScenarioPeer[] {
  const access = accessLinks(network);
  if (access.size === 0) return peers;
  return peers.map((peer) => {
    const link = access.get(peer.name);
    if (link === undefined) return peer;
    return {
      ...peer,
      ...(typeof link.up === 'number' ? { uploadRate: link.up } : {}),
      ...(typeof link.down === 'number' ? { downloadRate: link.down } : {}),
    };
  });
}

/** Names a step acts on; `all` means every peer (not the tracker). Steps without a target give []. */
export function stepTargets(step: ScenarioStep, peers: readonly ScenarioPeer[]): string[] {
  if ('peer' in step && typeof step.peer === 'string') return [step.peer];
  if ('peers' in step && step.peers !== undefined) {
    return step.peers === 'all' ? peers.map((p) => p.name) : [...step.peers];
  }
  return [];
}

function checkReferences(scenario: Scenario): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  const peers = scenarioPeers(scenario);
  const names = new Set<string>();
  peers.forEach((peer, i) => {
    if (names.has(peer.name))
      issues.push({ instancePath: `/peers/${i}/name`, message: `duplicate peer name "${peer.name}"` });
    names.add(peer.name);
  });
  const known = [...names].join(', ');
  if (scenario.chunkSize !== undefined && scenario.peerDefaults?.chunkSize !== undefined) {
    issues.push({
      instancePath: '/peerDefaults/chunkSize',
      message: 'the scenario sets "chunkSize" already; keep one',
    });
  }
  issues.push(
    ...checkNetwork(scenario.network, {
      nodes: [...names, TRACKER_NAME],
      // The peers as written: scenarioPeers() has merged the access links into their rates already.
      ratedPeers: new Map(typeof scenario.peers === 'number' ? [] : scenario.peers.map((peer) => [peer.name, peer])),
      tracker: TRACKER_NAME,
    }),
  );
  const nodes = new Set([...names, TRACKER_NAME]);
  const containerActions: readonly string[] = PEER_ACTIONS;
  const tmpfsBytes = new Map(peers.map((peer) => [peer.name, peer.dataTmpfsBytes]));
  let faultStep: number | undefined;
  const files = new Set(
    scenario.steps.flatMap((step) => (step.action === 'generate' || step.action === 'download' ? [step.file] : [])),
  );

  scenario.steps.forEach((step, i) => {
    const at = `/steps/${i}`;
    const checkName = (name: string, path: string, allowTracker: boolean): void => {
      if (name === TRACKER_NAME) {
        if (!allowTracker) issues.push({ instancePath: path, message: `"${step.action}" cannot act on the tracker` });
        return;
      }
      if (!names.has(name)) issues.push({ instancePath: path, message: `unknown peer "${name}" (peers: ${known})` });
    };
    const allowTracker = containerActions.includes(step.action);
    issues.push(...whenIssues(step, at, { peers: names, files }));
    if ('peer' in step && typeof step.peer === 'string' && step.peer !== HOLDER_REF) {
      checkName(step.peer, `${at}/peer`, allowTracker);
    }
    if ('peers' in step && Array.isArray(step.peers)) {
      step.peers.forEach((name, j) => checkName(name, `${at}/peers/${j}`, allowTracker));
    }
    if ('fault' in step && step.fault === true) {
      if (faultStep === undefined) faultStep = i;
      else
        issues.push({
          instancePath: `${at}/fault`,
          message: `only one step can be the fault (step ${faultStep + 1} is)`,
        });
    }
    if (step.action === 'fill-disk' || step.action === 'free-disk') {
      // The filler goes to a tmpfs only: on the container's own file system it would fill the host's disk.
      stepTargets(step, peers).forEach((name, j) => {
        if (!names.has(name)) return;
        const size = tmpfsBytes.get(name);
        const path = 'peer' in step && typeof step.peer === 'string' ? `${at}/peer` : `${at}/peers/${j}`;
        if (size === undefined) {
          issues.push({
            instancePath: path,
            message: `"${step.action}" needs a peer with dataTmpfsBytes ("${name}" has none)`,
          });
        } else if (step.action === 'fill-disk' && step.bytes >= size) {
          issues.push({
            instancePath: `${at}/bytes`,
            message: `must be less than ${name}'s dataTmpfsBytes (${size}) (got ${step.bytes})`,
          });
        }
      });
    }
    if (step.action === 'link') {
      issues.push(...checkBetween(step.between, `${at}/between`, nodes, scenario.network?.groups ?? {}));
    }
    if (step.action === 'partition') {
      issues.push(...checkPartition(step.groups, `${at}/groups`, nodes, scenario.network?.groups ?? {}));
    }
    if (step.action === 'assert') {
      step.sourcesInclude?.forEach((name, j) => checkName(name, `${at}/sourcesInclude/${j}`, false));
      step.sourcesExclude?.forEach((name, j) => checkName(name, `${at}/sourcesExclude/${j}`, false));
      const needsFile = (
        ['verified', 'minSources', 'sourcesInclude', 'sourcesExclude', 'holders', 'complete'] as const
      ).filter((key) => step[key] !== undefined);
      if (step.file === undefined && needsFile.length > 0) {
        issues.push({ instancePath: at, message: `must have property "file" (needed by ${needsFile.join(', ')})` });
      }
    }
  });
  return issues;
}

/**
 * Turns ajv's errors into one clear issue per problem. ajv reports every failed branch of a `oneOf`;
 * the discriminator keeps that to the step's own action, and the rest is rephrased here.
 */
export function explainSchemaErrors(errors: ErrorObject[], data: unknown): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  const seen = new Set<string>();
  const add = (instancePath: string, message: string): void => {
    const key = `${instancePath}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    issues.push({ instancePath, message });
  };
  // A oneOf between peer/peers reports both `required` failures; keep only the oneOf summary.
  const targetOneOfPaths = new Set(
    errors.filter((e) => e.keyword === 'oneOf' && /\/allOf\/1\/oneOf$/.test(e.schemaPath)).map((e) => e.instancePath),
  );
  for (const error of errors) {
    const path = error.instancePath;
    switch (error.keyword) {
      case 'additionalProperties': {
        const extra = (error.params as { additionalProperty: string }).additionalProperty;
        add(`${path}/${escapePointer(extra)}`, `unknown field "${extra}"`);
        break;
      }
      case 'required': {
        const missing = (error.params as { missingProperty: string }).missingProperty;
        if (/\/allOf\/\d+\/(oneOf|anyOf)\/\d+\/required$/.test(error.schemaPath)) break;
        if (targetOneOfPaths.has(path) && (missing === 'peer' || missing === 'peers')) break;
        add(path, `must have field "${missing}"`);
        break;
      }
      case 'oneOf':
        if (/\/allOf\/1\/oneOf$/.test(error.schemaPath)) {
          add(path, 'must have exactly one of "peer" or "peers"');
        } else if (!errors.some((e) => e !== error && e.instancePath.startsWith(path))) {
          add(path, error.message ?? 'is invalid');
        }
        break;
      case 'not':
        if (/\/allOf\/0\/not$/.test(error.schemaPath)) add(path, '"at" and "after" exclude each other');
        else if (/\/allOf\/1\/not$/.test(error.schemaPath)) add(path, '"peer" and "peers" exclude each other');
        else add(path, valueHint(data, path, 'is not allowed'));
        break;
      case 'anyOf':
        if (/\/allOf\/\d+\/anyOf$/.test(error.schemaPath)) {
          // Which fields a step needs one of depends on its action (the schema path only has an index).
          const action = valueAt(data, `${path}/action`);
          if (action === 'assert') add(path, `assert needs at least one check: ${ASSERT_CHECKS.join(', ')}`);
          else if (action === 'faults') add(path, 'faults needs "corrupt", "drop" or "delayMs"');
          else if (action === 'link') add(path, `link needs at least one of ${LINK_FIELDS.join(', ')}`);
          else add(path, 'rate needs "upload" or "download"');
        } else if (
          // A branch of the right type that failed a constraint (`minimum`, ...) says more than the summary.
          !errors.some(
            (e) => e.schemaPath.startsWith(`${error.schemaPath}/`) && e.keyword !== 'type' && e.keyword !== 'const',
          )
        ) {
          add(path, valueHint(data, path, describeAnyOf(path)));
        }
        break;
      case 'type':
      case 'const':
        // Branches of an anyOf report each type/const; the anyOf itself gives the summary.
        if (/\/anyOf\/\d+\//.test(error.schemaPath)) break;
        add(path, valueHint(data, path, error.message ?? 'is invalid'));
        break;
      case 'discriminator': {
        const tag = (error.params as { tag?: string; tagValue?: unknown }).tagValue;
        if (tag === undefined) add(path, 'must have field "action"');
        else add(`${path}/action`, `unknown action ${JSON.stringify(tag)} (one of: ${ACTIONS.join(', ')})`);
        break;
      }
      case 'enum':
        if (path.endsWith('/action')) {
          add(path, `unknown action ${JSON.stringify(valueAt(data, path))} (one of: ${ACTIONS.join(', ')})`);
        } else {
          add(path, valueHint(data, path, error.message ?? 'is invalid'));
        }
        break;
      case 'maximum':
      case 'maxItems':
        if (path === '/peers') {
          const value = valueAt(data, path);
          const count = Array.isArray(value) ? value.length : value;
          add(path, `a scenario has at most ${MAX_PEERS} peers (got ${String(count)})`);
        } else {
          add(path, valueHint(data, path, error.message ?? 'is invalid'));
        }
        break;
      default:
        add(path, valueHint(data, path, error.message ?? 'is invalid'));
    }
  }
  if (issues.length === 0 && errors.length > 0) {
    for (const error of errors) add(error.instancePath, error.message ?? 'is invalid');
  }
  return issues;
}

function describeAnyOf(path: string): string {
  if (/\/peers$/.test(path) && /^\/steps\//.test(path)) return 'must be a list of peer names or "all"';
  if (path === '/peers') return `must be a number of peers (1..${MAX_PEERS}) or a list of {name, ...}`;
  if (/\/(upload|download)$/.test(path)) return 'must be a positive integer (bytes/s) or null';
  if (/^\/network\/.*\/(bandwidth|up|down)$/.test(path))
    return 'must be bytes/s: a positive integer, a size (2M, 512K) or null';
  return 'has an invalid value';
}

function valueHint(data: unknown, path: string, message: string): string {
  const value = valueAt(data, path);
  if (value === undefined || typeof value === 'object') return message;
  return `${message} (got ${JSON.stringify(value)})`;
}

function valueAt(data: unknown, pointer: string): unknown {
  if (pointer === '') return data;
  let current: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
