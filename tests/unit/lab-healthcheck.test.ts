/** The peers' healthcheck interval `up()` gives a run: the image's for small runs, one check a second across big ones. */
import { IMAGE_HEALTHCHECK_INTERVAL_MS, peerHealthcheckIntervalMs } from '../../lab/controller';

describe('peerHealthcheckIntervalMs', () => {
  it('keeps the image interval up to 5 peers', () => {
    for (const peers of [1, 4, 5]) expect(peerHealthcheckIntervalMs(peers)).toBe(IMAGE_HEALTHCHECK_INTERVAL_MS);
  });

  it('spaces the checks so that a run starts about one a second', () => {
    expect(peerHealthcheckIntervalMs(12)).toBe(12_000);
    expect(peerHealthcheckIntervalMs(50)).toBe(50_000);
  });
});
