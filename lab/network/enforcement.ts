/**
 * Which layer enforces each property of a link, decided from what the kernel can do in a container's
 * network namespace (probed once per run) and from SWARMLAB_LINK_ENFORCEMENT:
 *
 * - `auto` (the default): the kernel where it can, the peers' emulator where it must. Latency and jitter
 *   with netem when the kernel has it, else `app`; loss with the packet filter (iptables statistic), else
 *   netem, else unsupported; partitions with the packet filter, else unsupported; bandwidth (per link and
 *   the access links) with htb classes when the kernel has them, else `app`.
 * - `app`: everything the emulator can do in the peers, nothing in the kernel (loss and partitions are
 *   then unsupported): the path a host without root takes, forced.
 * - `kernel`: like `auto`, but refuses to start without the packet filter rather than leaving loss and
 *   partitions unenforced.
 */
import { UnsupportedError, UsageError } from '../errors';
import type { NetworkEnforcement } from '../report-types';

export type EnforcementMode = 'auto' | 'app' | 'kernel';
export const ENFORCEMENT_MODES: readonly EnforcementMode[] = ['auto', 'app', 'kernel'];
export const ENFORCEMENT_ENV = 'SWARMLAB_LINK_ENFORCEMENT';

/** What the kernel can do in a container's network namespace, as probed. */
export interface KernelProbe {
  /** iptables (with `-m statistic`) in the namespace, from the host: root, nsenter and iptables. */
  packetFilter: boolean;
  /** A netem qdisc can be added in the namespace. */
  netem: boolean;
  /** htb classes with u32 filters can be set up in the namespace (absent: no). */
  htb?: boolean;
}

export const APP_ENFORCEMENT: NetworkEnforcement = {
  latency: 'app',
  jitter: 'app',
  bandwidth: 'app',
  loss: 'unsupported',
  partition: 'unsupported',
};

/** The mode SWARMLAB_LINK_ENFORCEMENT asks for (unset or empty: `auto`). */
export function enforcementMode(value: string | undefined = process.env[ENFORCEMENT_ENV]): EnforcementMode {
  if (value === undefined || value === '') return 'auto';
  if ((ENFORCEMENT_MODES as readonly string[]).includes(value)) return value as EnforcementMode;
  throw new UsageError(`${ENFORCEMENT_ENV} must be one of ${ENFORCEMENT_MODES.join(', ')} (got "${value}")`);
}

/** The layer of each property, for what the kernel can do and the mode asked for. */
export function decideEnforcement(probe: KernelProbe, mode: EnforcementMode): NetworkEnforcement {
  if (mode === 'app') return { ...APP_ENFORCEMENT };
  if (mode === 'kernel' && !probe.packetFilter) {
    throw new UnsupportedError(
      `${ENFORCEMENT_ENV}=kernel needs the packet filter (root on the Docker host, nsenter, iptables)`,
    );
  }
  const delay = probe.netem ? 'netem' : 'app';
  return {
    latency: delay,
    jitter: delay,
    bandwidth: probe.htb === true ? 'kernel' : 'app',
    loss: probe.packetFilter ? 'kernel' : probe.netem ? 'netem' : 'unsupported',
    partition: probe.packetFilter ? 'kernel' : 'unsupported',
  };
}

/** True when some property needs netem qdiscs in the namespaces. */
export function usesNetem(enforcement: NetworkEnforcement): boolean {
  return enforcement.latency === 'netem' || enforcement.jitter === 'netem' || enforcement.loss === 'netem';
}

/** True when some property needs tc in the namespaces: netem, or htb for bandwidth. */
export function usesShaper(enforcement: NetworkEnforcement): boolean {
  return usesNetem(enforcement) || enforcement.bandwidth === 'kernel';
}
