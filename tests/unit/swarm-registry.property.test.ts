/**
 * The tracker's registry against a naive model: any sequence of REGISTER, UNREGISTER (also how a peer
 * expires: its connection closes), PUBLISH, HAVE and WITHDRAW, and every LOCATE answer (cached until
 * the file changes) lists exactly the holders and chunks the model says, never a stale one; LIST too.
 */
import fc from 'fast-check';
import { Bitfield, computeFileId } from '../../src/protocol';
import type { Manifest, PeersBody } from '../../src/protocol';
import { errorCode } from '../../src/shared/errors';
import { SwarmRegistry } from '../../src/tracker/swarm-registry';

const MAX_FILES_PER_PEER = 2;
const hex = (seed: string): string => seed.repeat(64).slice(0, 64);
const MANIFESTS: Manifest[] = [3, 8, 9].map((chunks, m) => ({
  name: `file-${m}.bin`,
  size: chunks * 1024,
  chunkSize: 1024,
  chunks: Array.from({ length: chunks }, (_, c) => hex(`${m}${c}`)),
}));
const FILE_IDS = MANIFESTS.map(computeFileId);
const PEER_SLOTS = 4;

type Op =
  | { op: 'register'; slot: number }
  | { op: 'unregister'; slot: number }
  | { op: 'publish'; slot: number; file: number }
  | { op: 'have'; slot: number; file: number; indices: number[]; withManifest: boolean }
  | { op: 'withdraw'; slot: number; file: number }
  | { op: 'locate'; slot: number | null; file: number };

const slot = fc.integer({ min: 0, max: PEER_SLOTS - 1 });
const file = fc.integer({ min: 0, max: MANIFESTS.length - 1 });
/** Weighted so that most sequences build swarms, look them up, and change them after the lookup. */
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ op: fc.constant('register' as const), slot }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unregister' as const), slot }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('publish' as const), slot, file }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('have' as const),
      slot,
      file,
      // Up to 10: past the end of the two smaller files, so ERR_BAD_INDEX happens too.
      indices: fc.array(fc.integer({ min: 0, max: 10 }), { maxLength: 4 }),
      withManifest: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('withdraw' as const), slot, file }) },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('locate' as const), slot: fc.option(slot, { nil: null }), file }),
  },
);

interface ModelPeer {
  name: string;
  port: number;
  /** file index -> chunks held, in the order the peer first held each file. */
  files: Map<number, Set<number>>;
}

/** The registry's rules written the plain way, with no cache. */
class Model {
  readonly peers = new Map<string, ModelPeer>();

  holders(fileIndex: number): [string, ModelPeer][] {
    return [...this.peers].filter(([, peer]) => peer.files.has(fileIndex));
  }

  known(fileIndex: number): boolean {
    return this.holders(fileIndex).length > 0;
  }

  /** Throws an error carrying the code the registry must throw, or applies the change. */
  publish(peerId: string, fileIndex: number): void {
    const peer = this.requirePeer(peerId);
    this.hold(peer, fileIndex);
    for (let index = 0; index < MANIFESTS[fileIndex]!.chunks.length; index++) peer.files.get(fileIndex)!.add(index);
  }

  have(peerId: string, fileIndex: number, indices: number[], withManifest: boolean): void {
    const peer = this.requirePeer(peerId);
    if (!this.known(fileIndex) && !withManifest) throw coded('ERR_UNKNOWN_FILE');
    this.hold(peer, fileIndex);
    for (const index of indices) {
      if (index >= MANIFESTS[fileIndex]!.chunks.length) throw coded('ERR_BAD_INDEX');
      peer.files.get(fileIndex)!.add(index);
    }
  }

  locate(fileIndex: number, askingPeerId: string | undefined): PeersBody {
    if (!this.known(fileIndex)) throw coded('ERR_UNKNOWN_FILE');
    const manifest = MANIFESTS[fileIndex]!;
    const peers = this.holders(fileIndex)
      .filter(([peerId]) => peerId !== askingPeerId)
      .map(([peerId, peer]) => {
        const held = peer.files.get(fileIndex)!;
        const bitfield = new Bitfield(manifest.chunks.length);
        for (const index of held) bitfield.set(index);
        return {
          peerId,
          name: peer.name,
          host: '10.0.0.1',
          port: peer.port,
          complete: bitfield.complete,
          bitfield: bitfield.toBase64(),
        };
      });
    return { fileId: FILE_IDS[fileIndex]!, manifest, peers };
  }

  private requirePeer(peerId: string): ModelPeer {
    const peer = this.peers.get(peerId);
    if (!peer) throw coded('ERR_NOT_REGISTERED');
    return peer;
  }

  private hold(peer: ModelPeer, fileIndex: number): void {
    if (peer.files.has(fileIndex)) return;
    if (peer.files.size >= MAX_FILES_PER_PEER) throw coded('ERR_TOO_MANY_FILES');
    peer.files.set(fileIndex, new Set());
  }
}

function coded(code: string): Error & { code: string } {
  return Object.assign(new Error(code), { code });
}

/** The code of what `action` threw, or 'ok'. */
function outcome(action: () => void): string {
  try {
    action();
    return 'ok';
  } catch (error) {
    return errorCode(error);
  }
}

const byPeerId = (body: PeersBody): PeersBody => ({
  ...body,
  peers: [...body.peers].sort((a, b) => a.peerId.localeCompare(b.peerId)),
});

/** Every LOCATE the registry can answer now (from every peer, and from no peer) matches the model. */
function expectSameLocates(registry: SwarmRegistry, model: Model, slots: (string | undefined)[]): void {
  for (let fileIndex = 0; fileIndex < MANIFESTS.length; fileIndex++) {
    for (const asking of [undefined, ...slots]) {
      let answer: Buffer | undefined;
      const code = outcome(() => (answer = registry.locateAnswer(FILE_IDS[fileIndex]!, asking)));
      const expectedCode = outcome(() => model.locate(fileIndex, asking));
      expect(code).toBe(expectedCode);
      if (answer === undefined) continue;
      const text = answer.toString('utf8');
      const parsed = JSON.parse(text) as PeersBody;
      // The exact bytes JSON.stringify would give: the cache splices, it does not change the encoding.
      expect(text).toBe(JSON.stringify(parsed));
      expect(byPeerId(parsed)).toEqual(byPeerId(model.locate(fileIndex, asking)));
    }
  }
}

function run(ops: Op[]): void {
  const registry = new SwarmRegistry({ maxFilesPerPeer: MAX_FILES_PER_PEER });
  const model = new Model();
  const slots: (string | undefined)[] = Array.from({ length: PEER_SLOTS }, () => undefined);
  /** Ids that were unregistered: announcing with them must fail. */
  const gone: string[] = [];
  let registered = 0;
  const register = (slotIndex: number): void => {
    const port = 1000 + registered++;
    const id = registry.register(`peer-${port}`, '10.0.0.1', port);
    model.peers.set(id, { name: `peer-${port}`, port, files: new Map() });
    slots[slotIndex] = id;
  };
  for (let slotIndex = 0; slotIndex < PEER_SLOTS; slotIndex++) register(slotIndex);
  for (const op of ops) {
    const peerId = op.slot === null ? undefined : (slots[op.slot] ?? gone[op.slot % Math.max(gone.length, 1)]);
    switch (op.op) {
      case 'register':
        if (slots[op.slot] === undefined) register(op.slot);
        break;
      case 'unregister':
        if (peerId === undefined) break;
        registry.unregister(peerId);
        model.peers.delete(peerId);
        if (slots[op.slot] === peerId) {
          slots[op.slot] = undefined;
          gone.push(peerId);
        }
        break;
      case 'publish':
        if (peerId === undefined) break;
        expect(outcome(() => registry.publish(peerId, MANIFESTS[op.file]!))).toBe(
          outcome(() => model.publish(peerId, op.file)),
        );
        break;
      case 'have': {
        if (peerId === undefined) break;
        const manifest = op.withManifest ? MANIFESTS[op.file] : undefined;
        expect(outcome(() => registry.have(peerId, FILE_IDS[op.file]!, op.indices, manifest))).toBe(
          outcome(() => model.have(peerId, op.file, op.indices, op.withManifest)),
        );
        break;
      }
      case 'withdraw':
        if (peerId === undefined) break;
        registry.withdraw(peerId, FILE_IDS[op.file]!);
        model.peers.get(peerId)?.files.delete(op.file);
        break;
      case 'locate':
        // Warms the cache for this file, so the next change must drop it.
        expectSameLocates(registry, model, slots);
        break;
    }
  }
  expectSameLocates(registry, model, slots);
  const listed = registry.list().map(({ fileId, holders, seeders }) => ({ fileId, holders, seeders }));
  const expected = MANIFESTS.flatMap((manifest, fileIndex) => {
    const holders = model.holders(fileIndex);
    if (holders.length === 0) return [];
    const seeders = holders.filter(([, peer]) => peer.files.get(fileIndex)!.size === manifest.chunks.length).length;
    return [{ fileId: FILE_IDS[fileIndex]!, holders: holders.length, seeders }];
  });
  expect(listed).toEqual(expected);
  expect(registry.fileCount).toBe(expected.length);
}

describe('SwarmRegistry against a naive model', () => {
  it('answers every LOCATE and LIST as the model does after any sequence of changes', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { minLength: 1, maxLength: 40 }), (ops) => run(ops)),
      { numRuns: 300 },
    );
  });

  it('a LOCATE after a HAVE, a WITHDRAW and an expiry never lists stale holders (worked example)', () => {
    const registry = new SwarmRegistry();
    const seeder = registry.register('seeder', '10.0.0.1', 1);
    const leecher = registry.register('leecher', '10.0.0.2', 2);
    const fileId = registry.publish(seeder, MANIFESTS[1]!);
    const peersOf = (): { name: string; bitfield: string }[] =>
      (JSON.parse(registry.locateAnswer(fileId).toString()) as PeersBody).peers.map(({ name, bitfield }) => ({
        name,
        bitfield,
      }));
    expect(peersOf()).toEqual([{ name: 'seeder', bitfield: '/w==' }]);
    registry.have(leecher, fileId, [0]);
    expect(peersOf()).toEqual([
      { name: 'seeder', bitfield: '/w==' },
      { name: 'leecher', bitfield: 'gA==' },
    ]);
    registry.withdraw(seeder, fileId);
    expect(peersOf()).toEqual([{ name: 'leecher', bitfield: 'gA==' }]);
    // A peer expires by its connection closing, which unregisters it.
    registry.unregister(leecher);
    expect(() => registry.locateAnswer(fileId)).toThrow(expect.objectContaining({ code: 'ERR_UNKNOWN_FILE' }));
  });

  it('a refused announcement leaves no file behind in the catalogue', () => {
    const registry = new SwarmRegistry({ maxFilesPerPeer: 1 });
    const peer = registry.register('full', '10.0.0.1', 1);
    registry.publish(peer, MANIFESTS[0]!);
    expect(outcome(() => registry.publish(peer, MANIFESTS[1]!))).toBe('ERR_TOO_MANY_FILES');
    expect(outcome(() => registry.have(peer, FILE_IDS[2]!, [0], MANIFESTS[2]))).toBe('ERR_TOO_MANY_FILES');
    expect(registry.list().map((summary) => summary.name)).toEqual(['file-0.bin']);
  });
});
