/**
 * RoomQueue: which downloaders refused with REJECT busy a source wakes with ROOM, and when.
 */
import { ROOM_OFFER_HOLD_MS, RoomQueue } from '../../src/peer/room-queue';

const CHUNK = 512 * 1024;
/** A queue bound of four chunks (4 s at 512 KiB/s). */
const CAPACITY = 4 * CHUNK;

describe('RoomQueue', () => {
  it('wakes nobody while the accepted requests fill the queue', () => {
    const room = new RoomQueue<string>();
    room.wait('a', CHUNK);
    expect(room.wake(0, 4, CAPACITY)).toEqual([]);
    expect(room.waiters).toBe(1);
  });

  it('wakes waiters first refused first, as many as the queue has room for', () => {
    const room = new RoomQueue<string>();
    for (const waiter of ['a', 'b', 'c', 'd']) room.wait(waiter, CHUNK);
    // A second refusal keeps a waiter's place.
    room.wait('a', CHUNK);
    expect(room.wake(0, 2, CAPACITY)).toEqual(['a', 'b']);
    expect(room.waiters).toBe(2);
  });

  it('holds a slot for each waiter it woke until that waiter asks, or for ROOM_OFFER_HOLD_MS', () => {
    const room = new RoomQueue<string>();
    for (const waiter of ['a', 'b']) room.wait(waiter, CHUNK);
    expect(room.wake(0, 3, CAPACITY)).toEqual(['a']);
    // The slot `a` was woken for is still held: a chunk sent meanwhile (3 → 2 accepted) makes room for `b` only.
    expect(room.wake(10, 3, CAPACITY)).toEqual([]);
    expect(room.wake(20, 2, CAPACITY)).toEqual(['b']);
    room.wait('c', CHUNK);
    expect(room.wake(30, 2, CAPACITY)).toEqual([]);
    // `a` asked, and its request is among the accepted now: its hold ends, `b`'s holds on.
    room.answered('a');
    expect(room.wake(40, 3, CAPACITY)).toEqual([]);
    // `b` never asked: its hold lapses.
    expect(room.wake(20 + ROOM_OFFER_HOLD_MS + 1, 3, CAPACITY)).toEqual(['c']);
  });

  it('skips a waiter that is not eligible now and keeps its place', () => {
    const room = new RoomQueue<string>();
    for (const waiter of ['choked', 'b']) room.wait(waiter, CHUNK);
    expect(room.wake(0, 0, CAPACITY, (waiter) => waiter !== 'choked')).toEqual(['b']);
    expect([...room.waitingNow()]).toEqual(['choked']);
    expect(room.wake(1, 0, CAPACITY)).toEqual(['choked']);
  });

  it('counts the slots held for other woken waiters, not for the one asking', () => {
    const room = new RoomQueue<string>();
    for (const waiter of ['a', 'b']) room.wait(waiter, CHUNK);
    expect(room.wake(0, 0, CAPACITY)).toEqual(['a', 'b']);
    expect(room.held(10, 'a')).toBe(1);
    expect(room.held(10, 'someone else')).toBe(2);
    room.answered('a');
    expect(room.held(20, 'someone else')).toBe(1);
    expect(room.held(ROOM_OFFER_HOLD_MS + 1, 'someone else')).toBe(0);
  });

  it('forgets a waiter that left, and the slot held for it', () => {
    const room = new RoomQueue<string>();
    for (const waiter of ['a', 'b', 'c']) room.wait(waiter, CHUNK);
    room.forget('a');
    expect(room.wake(0, 3, CAPACITY)).toEqual(['b']);
    room.forget('b');
    expect(room.wake(1, 3, CAPACITY)).toEqual(['c']);
  });

  it('wakes every waiter of an unlimited upload', () => {
    const room = new RoomQueue<string>();
    for (const waiter of ['a', 'b', 'c']) room.wait(waiter, CHUNK);
    expect(room.wake(0, 100, Infinity)).toEqual(['a', 'b', 'c']);
  });

  it('says when the first slot it holds stops being held', () => {
    const room = new RoomQueue<string>();
    expect(room.nextHoldEndMs()).toBeUndefined();
    for (const waiter of ['a', 'b', 'c']) room.wait(waiter, CHUNK);
    expect(room.wake(100, 3, CAPACITY)).toEqual(['a']);
    expect(room.wake(300, 2, CAPACITY)).toEqual(['b']);
    expect(room.nextHoldEndMs()).toBe(100 + ROOM_OFFER_HOLD_MS);
    room.answered('a');
    expect(room.nextHoldEndMs()).toBe(300 + ROOM_OFFER_HOLD_MS);
    // Once b's hold has ended, its slot goes to the next waiter.
    expect(room.wake(300 + ROOM_OFFER_HOLD_MS + 1, 3, CAPACITY)).toEqual(['c']);
    expect(room.nextHoldEndMs()).toBe(300 + ROOM_OFFER_HOLD_MS + 1 + ROOM_OFFER_HOLD_MS);
  });
});
