/**
 * SeedingPolicy (super-seeding): while its upload is busy, a seeder refuses a chunk already claimed by
 * another open connection, and serves everything once every chunk has gone out, when idle, when the
 * claimant left, after MAX_DEFERRALS refusals of a claim CLAIM_PATIENCE_MS old, for files it does not
 * hold whole, and when disabled. Time comes from an injected clock.
 */
import { CLAIM_PATIENCE_MS, MAX_DEFERRALS, SeedingPolicy } from '../../src/peer/seeding-policy';
import type { SeedingRequester } from '../../src/peer/seeding-policy';

const FILE = 'a'.repeat(64);
const PARTIAL = 'b'.repeat(64);
const CHUNKS = 8;

function requester(): SeedingRequester & { isClosed: boolean } {
  return { isClosed: false };
}

const clock = { ms: 0 };

function policy(enabled = true): SeedingPolicy {
  clock.ms = 0;
  return new SeedingPolicy({
    wholeFileChunks: (fileId) => (fileId === FILE ? CHUNKS : undefined),
    enabled: () => enabled,
    now: () => clock.ms,
  });
}

describe('SeedingPolicy', () => {
  it('serves the first connection to ask for a chunk and refuses it to others while busy', () => {
    const seeding = policy();
    const [a, b] = [requester(), requester()];
    expect(seeding.admit(FILE, 3, a, true)).toBe(true);
    expect(seeding.admit(FILE, 3, b, true)).toBe(false);
    expect(seeding.admit(FILE, 4, b, true)).toBe(true);
    expect(seeding.admit(FILE, 4, a, true)).toBe(false);
  });

  it('serves the claimant again (it lost the chunk, or asks twice)', () => {
    const seeding = policy();
    const a = requester();
    expect(seeding.admit(FILE, 3, a, true)).toBe(true);
    expect(seeding.admit(FILE, 3, a, true)).toBe(true);
  });

  it('never idles the upload: with nothing else waiting a claimed chunk is served', () => {
    const seeding = policy();
    const [a, b] = [requester(), requester()];
    seeding.admit(FILE, 3, a, true);
    expect(seeding.admit(FILE, 3, b, false)).toBe(true);
  });

  it('a claim lapses when its connection closes: the next asker claims the chunk', () => {
    const seeding = policy();
    const [a, b, c] = [requester(), requester(), requester()];
    seeding.admit(FILE, 3, a, true);
    a.isClosed = true;
    expect(seeding.admit(FILE, 3, b, true)).toBe(true);
    expect(seeding.admit(FILE, 3, c, true)).toBe(false);
  });

  it(`serves a connection refused the same chunk ${MAX_DEFERRALS} times once the claim is ${CLAIM_PATIENCE_MS} ms old`, () => {
    const seeding = policy();
    const [a, b] = [requester(), requester()];
    seeding.admit(FILE, 3, a, true);
    for (let i = 0; i < MAX_DEFERRALS; i++) expect(seeding.admit(FILE, 3, b, true)).toBe(false);
    clock.ms += CLAIM_PATIENCE_MS - 1;
    expect(seeding.admit(FILE, 3, b, true)).toBe(false);
    clock.ms += 1;
    expect(seeding.admit(FILE, 3, b, true)).toBe(true);
    // The count starts again for that connection and chunk.
    expect(seeding.admit(FILE, 3, b, true)).toBe(false);
  });

  it('once every chunk has been sent, not merely claimed, the upload is spare capacity and serves anyone', () => {
    const seeding = policy();
    const [a, b] = [requester(), requester()];
    for (let index = 0; index < CHUNKS; index++) seeding.admit(FILE, index, a, true);
    expect(seeding.admit(FILE, 0, b, true)).toBe(false);
    for (let index = 0; index < CHUNKS - 1; index++) seeding.sent(FILE, index);
    expect(seeding.admit(FILE, 0, b, true)).toBe(false);
    seeding.sent(FILE, CHUNKS - 1);
    for (let index = 0; index < CHUNKS; index++) expect(seeding.admit(FILE, index, b, true)).toBe(true);
  });

  it('never holds back a file this peer is still downloading', () => {
    const seeding = policy();
    const [a, b] = [requester(), requester()];
    expect(seeding.admit(PARTIAL, 1, a, true)).toBe(true);
    expect(seeding.admit(PARTIAL, 1, b, true)).toBe(true);
  });

  it('serves everything when disabled (an unlimited upload)', () => {
    const seeding = policy(false);
    const [a, b] = [requester(), requester()];
    expect(seeding.admit(FILE, 1, a, true)).toBe(true);
    expect(seeding.admit(FILE, 1, b, true)).toBe(true);
  });

  describe('state bounded by what is live', () => {
    it('forget drops every claim of a closed connection, and the chunk is claimable again', () => {
      const seeding = policy();
      const [a, b, c] = [requester(), requester(), requester()];
      for (let index = 0; index < CHUNKS; index++) seeding.admit(FILE, index, a, true);
      seeding.admit(FILE, 0, b, true);
      expect(seeding.claimCount).toBe(CHUNKS);
      seeding.forget(a);
      expect(seeding.claimCount).toBe(0);
      expect(seeding.admit(FILE, 3, b, true)).toBe(true);
      expect(seeding.admit(FILE, 3, c, true)).toBe(false);
    });

    it('drop forgets a file: its claims and what was sent of it', () => {
      const seeding = policy();
      const a = requester();
      seeding.admit(FILE, 1, a, true);
      seeding.sent(FILE, 1);
      expect(seeding.fileCount).toBe(1);
      seeding.drop(FILE);
      expect({ claims: seeding.claimCount, files: seeding.fileCount }).toEqual({ claims: 0, files: 0 });
    });

    it('a file no longer held whole is forgotten at its next request', () => {
      let whole = true;
      const seeding = new SeedingPolicy({ wholeFileChunks: () => (whole ? CHUNKS : undefined), enabled: () => true, now: () => 0 });
      const a = requester();
      seeding.admit(FILE, 1, a, true);
      seeding.sent(FILE, 1);
      whole = false;
      expect(seeding.admit(FILE, 2, a, true)).toBe(true);
      expect({ claims: seeding.claimCount, files: seeding.fileCount }).toEqual({ claims: 0, files: 0 });
    });
  });
});
