/**
 * Application-level faults for the lab, applied by a peer to the chunks it serves. The kernel here has
 * no netem, so latency, loss and lying are done in the application:
 * - `delayMs`: every chunk is held this long before it is sent (added latency);
 * - `dropRate`: this share of chunks is silently not sent (the requester times out, like loss);
 * - `corruptRate`: this share of chunks is sent with one byte flipped (a lying peer).
 * Configured with --faults / SWARMLAB_FAULTS, e.g. "corrupt=0.5,delay=20,drop=0.01", or the `faults`
 * control command.
 */
import { ConfigError } from '../shared/errors';

export interface FaultSettings {
  delayMs: number;
  dropRate: number;
  corruptRate: number;
}

export const NO_FAULTS: FaultSettings = { delayMs: 0, dropRate: 0, corruptRate: 0 };

export function parseFaults(spec: string): FaultSettings {
  const settings = { ...NO_FAULTS };
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, raw] = part.split('=');
    const value = Number(raw);
    if (raw === undefined || !Number.isFinite(value) || value < 0) throw new ConfigError(`bad fault "${part}" (expected key=number)`);
    if (key === 'delay') settings.delayMs = value;
    else if (key === 'drop' || key === 'corrupt') {
      if (value > 1) throw new ConfigError(`${key} is a share between 0 and 1, not ${value}`);
      if (key === 'drop') settings.dropRate = value;
      else settings.corruptRate = value;
    } else throw new ConfigError(`unknown fault "${key}" (delay, drop, corrupt)`);
  }
  return settings;
}

export type FaultDecision = { send: false } | { send: true; data: Buffer; delayMs: number; corrupted: boolean };

export class FaultInjector {
  constructor(
    public settings: FaultSettings = NO_FAULTS,
    private readonly random: () => number = Math.random,
  ) {}

  get active(): boolean {
    return this.settings.delayMs > 0 || this.settings.dropRate > 0 || this.settings.corruptRate > 0;
  }

  decide(data: Buffer): FaultDecision {
    if (this.settings.dropRate > 0 && this.random() < this.settings.dropRate) return { send: false };
    if (this.settings.corruptRate > 0 && data.length > 0 && this.random() < this.settings.corruptRate) {
      const copy = Buffer.from(data);
      const at = Math.floor(this.random() * copy.length);
      copy[at] = (copy[at] ?? 0) ^ 0xff;
      return { send: true, data: copy, delayMs: this.settings.delayMs, corrupted: true };
    }
    return { send: true, data, delayMs: this.settings.delayMs, corrupted: false };
  }
}
