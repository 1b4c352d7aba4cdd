/**
 * Leased registrations in the tracker's registry, on an explicit clock: a lease expires only when
 * nothing renewed it in time, renewing and resuming restart it, a bound peer never expires here, and a
 * key from another registry (a restarted tracker) or for another peer is refused.
 */
import { computeFileId } from '../../src/protocol';
import type { Manifest } from '../../src/protocol';
import { errorCode } from '../../src/shared/errors';
import { SwarmRegistry } from '../../src/tracker/swarm-registry';

const manifest: Manifest = { name: 'leased.bin', size: 2048, chunkSize: 1024, chunks: ['1'.repeat(64), '2'.repeat(64)] };
const fileId = computeFileId(manifest);

function refusal(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return errorCode(error);
  }
}

describe('SwarmRegistry leases', () => {
  it('expires a lease not renewed since the cut-off, with its replicas, and nothing else', () => {
    const registry = new SwarmRegistry();
    const bound = registry.register('bound', '10.0.0.1', 1);
    const quiet = registry.registerLeased('quiet', '10.0.0.2', 2, '10.0.0.2', 1_000);
    const renewed = registry.registerLeased('renewed', '10.0.0.3', 3, '10.0.0.3', 1_000);
    const resumed = registry.registerLeased('resumed', '10.0.0.4', 4, '10.0.0.4', 1_000);
    registry.publish(quiet.peerId, manifest);
    registry.renew(renewed.peerId, 5_000);
    expect(registry.resume(resumed, 5_000)).toEqual({ host: '10.0.0.4' });

    expect(registry.expireLeases(1_000)).toEqual([]);
    expect(registry.expireLeases(4_000)).toEqual([quiet.peerId]);
    expect(registry.peerCount).toBe(3);
    expect(registry.fileCount).toBe(0);
    expect(registry.isLeased(bound)).toBe(false);
    expect(registry.expireLeases(Number.MAX_SAFE_INTEGER).sort()).toEqual([renewed.peerId, resumed.peerId].sort());
    expect(registry.peerCount).toBe(1);
  });

  it('refuses a wrong key, a bound peer, an unknown peer and a key from another registry', () => {
    const registry = new SwarmRegistry();
    const first = registry.registerLeased('first', '10.0.0.1', 1, '10.0.0.1');
    const second = registry.registerLeased('second', '10.0.0.2', 2, '10.0.0.2');
    const bound = registry.register('bound', '10.0.0.3', 3);
    expect(first.key).toMatch(/^[0-9a-f]{32}$/);
    expect(first.key).not.toBe(second.key);
    expect(refusal(() => registry.resume({ peerId: first.peerId, key: second.key }))).toBe('ERR_UNKNOWN_PEER');
    expect(refusal(() => registry.resume({ peerId: bound, key: first.key }))).toBe('ERR_UNKNOWN_PEER');
    expect(refusal(() => registry.resume({ peerId: '0'.repeat(16), key: first.key }))).toBe('ERR_UNKNOWN_PEER');
    expect(refusal(() => registry.resume({ peerId: first.peerId, key: 'short' }))).toBe('ERR_UNKNOWN_PEER');
    expect(refusal(() => new SwarmRegistry().resume(first))).toBe('ERR_UNKNOWN_PEER');
    expect(refusal(() => registry.resume(first))).toBeUndefined();
    // A lease ended by UNREGISTER cannot be resumed.
    registry.have(first.peerId, fileId, [0], manifest);
    registry.unregister(first.peerId);
    expect(refusal(() => registry.resume(first))).toBe('ERR_UNKNOWN_PEER');
    expect(registry.fileCount).toBe(0);
  });
});

describe('SwarmRegistry lease limit', () => {
  it('refuses more live leases from one address than allowed, and counts ended ones out', () => {
    const registry = new SwarmRegistry({ maxLeasesPerAddress: 2 });
    const a = registry.registerLeased('a', '10.0.0.9', 1, '192.0.2.1', 1_000);
    registry.registerLeased('b', '10.0.0.9', 2, '192.0.2.1', 1_000);
    expect(refusal(() => registry.registerLeased('c', '10.0.0.9', 3, '192.0.2.1'))).toBe('ERR_TOO_MANY_LEASES');
    // Another address, and bound peers, are not counted against it.
    expect(refusal(() => registry.registerLeased('d', '10.0.0.9', 4, '192.0.2.2'))).toBeUndefined();
    registry.register('bound', '192.0.2.1', 5);
    // Ended by UNREGISTER or by expiry, a lease frees its place.
    registry.unregister(a.peerId);
    expect(refusal(() => registry.registerLeased('e', '10.0.0.9', 6, '192.0.2.1', 5_000))).toBeUndefined();
    expect(registry.expireLeases(2_000)).toHaveLength(1);
    expect(refusal(() => registry.registerLeased('f', '10.0.0.9', 7, '192.0.2.1', 5_000))).toBeUndefined();
    expect(refusal(() => registry.registerLeased('g', '10.0.0.9', 8, '192.0.2.1', 5_000))).toBe('ERR_TOO_MANY_LEASES');
  });
});
