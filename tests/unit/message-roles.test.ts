/** The message table in messages.ts: which messages answer requests, which JSON messages a peer receives. */
import { MessageType, PEER_INBOUND_JSON_TYPES, RESPONSE_TYPES } from '../../src/protocol';

describe('message roles', () => {
  it('lists the responses a transport matches to pending requests', () => {
    expect([...RESPONSE_TYPES].sort((a, b) => a - b)).toEqual(
      [
        MessageType.Registered,
        MessageType.Published,
        MessageType.Files,
        MessageType.Peers,
        MessageType.Ok,
        MessageType.Error,
        MessageType.Bitfield,
        MessageType.Chunk,
        MessageType.Reject,
        MessageType.Pong,
      ].sort((a, b) => a - b),
    );
  });

  it('lists the JSON messages a peer receives (their schemas are compiled at start)', () => {
    expect([...PEER_INBOUND_JSON_TYPES].sort((a, b) => a - b)).toEqual(
      [
        MessageType.Registered,
        MessageType.Published,
        MessageType.Files,
        MessageType.Peers,
        MessageType.Ok,
        MessageType.Error,
        MessageType.Hello,
        MessageType.Interested,
        MessageType.Bitfield,
        MessageType.Ping,
        MessageType.Pong,
        MessageType.Room,
      ].sort((a, b) => a - b),
    );
  });
});
