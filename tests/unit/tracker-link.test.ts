/**
 * The tracker link's transition table (src/peer/tracker-link.ts): every edge the client takes is
 * allowed, and every other one throws IllegalTransitionError with a stable code.
 */
import { checkTransition, IllegalTransitionError, TRACKER_LINK_TRANSITIONS } from '../../src/peer/tracker-link';
import type { TrackerLinkKind } from '../../src/peer/tracker-link';

const KINDS: TrackerLinkKind[] = ['idle', 'connecting', 'registered', 'parked', 'reconnecting'];

/** Written out on purpose rather than read from the table: a changed edge must change this test too. */
const ALLOWED = new Set([
  'idle→connecting', // connect()
  'connecting→registered', // the first registration
  'connecting→idle', // it failed, or disconnect()/close() meanwhile
  'registered→parked', // leased and idle for PARK_AFTER_IDLE_HEARTBEATS heartbeats
  'registered→reconnecting', // the connection dropped
  'registered→idle', // disconnect() / close()
  'parked→registered', // a request reopened the connection
  'parked→reconnecting', // a renewal or a reopening failed
  'parked→idle',
  'reconnecting→registered', // an attempt succeeded
  'reconnecting→reconnecting', // an attempt failed: back off and wait again
  'reconnecting→idle',
]);

describe('tracker link transitions', () => {
  const pairs = KINDS.flatMap((from) => KINDS.map((to) => [from, to] as const));

  it.each(pairs.filter(([from, to]) => ALLOWED.has(`${from}→${to}`)))('allows %s → %s', (from, to) => {
    expect(() => checkTransition(from, to)).not.toThrow();
  });

  it.each(pairs.filter(([from, to]) => !ALLOWED.has(`${from}→${to}`)))('refuses %s → %s', (from, to) => {
    let thrown: unknown;
    try {
      checkTransition(from, to);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(IllegalTransitionError);
    expect(thrown).toMatchObject({ code: 'ERR_ILLEGAL_TRANSITION', from, to });
  });

  it('lists every state', () => {
    expect(Object.keys(TRACKER_LINK_TRANSITIONS).sort()).toEqual([...KINDS].sort());
  });
});
