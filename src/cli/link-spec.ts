/**
 * The text form of emulated links, shared by `swarmlab peer --link/--link-default` and `swarmlab ctl
 * link set`: `latencyMs=50,jitterMs=5,bandwidth=4M` (bandwidth in bytes/s, with the size suffixes of
 * the rate options; `off` uncaps it), and for a rule `HOST[:PORT]=latencyMs=50,...`. The values are
 * checked with the same ajv schema the control socket uses (docs/control.md, "Links").
 */
import type { ValidateFunction } from 'ajv';
import { LINK_TARGET_PATTERN, linkConditionsProperties } from '../control/control-schemas';
import { ConfigError } from '../shared/errors';
import { DEFAULT_LINK } from '../shared/link-emulator';
import type { LinkConditions, LinkRule } from '../shared/link-emulator';
import { parseSize } from './format';
import { codeSchemaAjv } from '../protocol/code-schemas';

const ajv = codeSchemaAjv({ allErrors: false, strict: true, strictTypes: false });
const ruleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['to'],
  properties: { to: { type: 'string', maxLength: 300, pattern: LINK_TARGET_PATTERN }, ...linkConditionsProperties },
};
let validateOnce: ValidateFunction | undefined;

/** `latencyMs=50,jitterMs=5,bandwidth=4M` -> the fields it names (the others keep their value). */
export function parseLinkConditions(spec: string): Partial<LinkConditions> {
  const conditions: Partial<LinkConditions> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, raw, ...rest] = part.split('=');
    if (raw === undefined || raw === '' || rest.length > 0) throw new ConfigError(`bad link condition "${part}" (expected key=value)`);
    switch (key) {
      case 'latencyMs':
      case 'jitterMs': {
        const value = Number(raw);
        if (!Number.isFinite(value)) throw new ConfigError(`${key} must be a number of ms, not "${raw}"`);
        conditions[key] = value;
        break;
      }
      case 'bandwidth':
        try {
          conditions.bandwidth = raw === 'off' || raw === 'null' ? null : parseSize(raw);
        } catch (error) {
          throw new ConfigError(`bandwidth: ${(error as Error).message}`);
        }
        break;
      case 'lossPercent':
        throw new ConfigError('lossPercent is not emulated by the peer: over TCP the application never sees a lost packet (the lab drops packets in the kernel)');
      default:
        throw new ConfigError(`unknown link condition "${String(key)}" (latencyMs, jitterMs, bandwidth)`);
    }
  }
  return conditions;
}

/** A rule checked against the control socket's schema: a bad value fails here, before the peer starts. */
export function checkedLinkRule(to: string, conditions: Partial<LinkConditions>): LinkRule {
  const rule = { to, ...conditions };
  const validate = (validateOnce ??= ajv.compile(ruleSchema));
  if (!validate(rule)) {
    const error = validate.errors?.[0];
    throw new ConfigError(`link ${to}: ${error?.instancePath.slice(1) || 'target'} ${error?.message ?? 'is invalid'}`);
  }
  return { latencyMs: 0, jitterMs: 0, bandwidth: null, ...rule };
}

/** `HOST[:PORT]=latencyMs=50,...` (a --link flag). */
export function parseLinkRule(text: string): LinkRule {
  const at = text.indexOf('=');
  if (at <= 0) throw new ConfigError(`--link "${text}" is not HOST[:PORT]=latencyMs=...,jitterMs=...,bandwidth=...`);
  return checkedLinkRule(text.slice(0, at), parseLinkConditions(text.slice(at + 1)));
}

/** The peer's rules from --link-default SPEC and every --link HOST[:PORT]=SPEC. */
export function parseLinkFlags(defaultSpec: string | undefined, rules: readonly string[]): LinkRule[] {
  const parsed = rules.map(parseLinkRule);
  if (defaultSpec !== undefined) parsed.unshift(checkedLinkRule(DEFAULT_LINK, parseLinkConditions(defaultSpec)));
  return parsed;
}
