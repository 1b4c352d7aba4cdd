/** The peers' healthcheck `up()` gives a run: the image's for small runs, spaced out in bigger ones, none in big ones. */
import { CHANNEL_HEALTH_ABOVE_PEERS, peerHealthcheck } from '../../lab/controller';

describe('peerHealthcheck', () => {
  it("keeps the image's healthcheck up to 5 peers", () => {
    for (const peers of [1, 4, 5]) expect(peerHealthcheck(peers)).toBeUndefined();
  });

  it('spaces the checks so that a run starts about one a second', () => {
    expect(peerHealthcheck(12)).toEqual({ intervalMs: 12_000 });
    expect(peerHealthcheck(CHANNEL_HEALTH_ABOVE_PEERS)).toEqual({ intervalMs: CHANNEL_HEALTH_ABOVE_PEERS * 1000 });
  });

  it('runs none above CHANNEL_HEALTH_ABOVE_PEERS: the control channel tells the lab a peer is alive', () => {
    for (const peers of [CHANNEL_HEALTH_ABOVE_PEERS + 1, 100, 200]) expect(peerHealthcheck(peers)).toBe('none');
  });
});
