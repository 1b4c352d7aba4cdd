/** A received chunk's lease: released exactly once, unreadable afterwards, its memory reused. */
import { ChunkMemory } from '../../src/peer/chunk-memory';

describe('ChunkMemory and ChunkLease', () => {
  it('receives chunk-sized frames into pooled memory and smaller ones into plain buffers', () => {
    const memory = new ChunkMemory({ pooledFrameBytes: 1024 });
    const frame = memory.allocateFrame(4096);
    memory.lease(frame.subarray(40)).release();
    expect(memory.idleCount).toBe(1);
    expect(memory.allocateFrame(4096).buffer).toBe(frame.buffer);
    memory.lease(memory.allocateFrame(100)).release();
    expect(memory.idleCount).toBe(0);
  });

  it('gives its memory back once, on release', () => {
    const memory = new ChunkMemory({ pooledFrameBytes: 1 });
    const lease = memory.lease(memory.allocateFrame(256));
    expect(lease.data.length).toBe(256);
    expect(memory.idleCount).toBe(0);
    lease.release();
    expect(lease.isReleased).toBe(true);
    expect(memory.idleCount).toBe(1);
  });

  it('throws on a second release, and on reading a released chunk', () => {
    const memory = new ChunkMemory({ pooledFrameBytes: 1 });
    const lease = memory.lease(memory.allocateFrame(256));
    lease.release();
    expect(() => lease.release()).toThrow(expect.objectContaining({ code: 'ERR_CHUNK_RELEASED' }));
    expect(() => lease.data).toThrow(expect.objectContaining({ code: 'ERR_CHUNK_RELEASED' }));
    // The memory went back once: two acquisitions get two different buffers.
    expect(memory.allocateFrame(256).buffer).not.toBe(memory.allocateFrame(256).buffer);
  });

  it('hands memory released while lent to the owner when it comes back', () => {
    const memory = new ChunkMemory({ pooledFrameBytes: 1 });
    const lease = memory.lease(memory.allocateFrame(64));
    const lent = lease.lend();
    lease.release();
    expect(memory.idleCount).toBe(0);
    lease.restore(lent);
    expect(memory.idleCount).toBe(1);
    expect(() => lease.data).toThrow(expect.objectContaining({ code: 'ERR_CHUNK_RELEASED' }));
  });

  it('takes back a frame nobody leased', () => {
    const memory = new ChunkMemory({ pooledFrameBytes: 1 });
    memory.discard(memory.allocateFrame(128));
    expect(memory.idleCount).toBe(1);
  });
});
