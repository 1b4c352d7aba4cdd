/* global module */
/**
 * A custom piece picker (docs/strategies.md): `swarmlab peer --picker docs/examples/picker-lowest-availability.js`.
 *
 * Rarest first without the built-in's shortcuts: it scans every chunk, takes the one the fewest known
 * sources hold, and breaks ties by the lowest index (the built-in `rarest` breaks them at random near
 * the first missing chunk). It never asks a second source for a chunk already asked for elsewhere: no
 * endgame duplicates, so its last chunks come only as fast as the source first asked for them.
 *
 * Plain CommonJS with no imports; an ES module with `export function pick(input)` works the same.
 */
'use strict';

/**
 * @param {import('../../src/peer/piece-picker').PickInput} input what swarmlab knows when one source has room for a request
 * @returns {number | undefined} the chunk index to ask this source for, or undefined to ask it for nothing now
 */
function pick(input) {
  let best;
  let bestAvailability = Infinity;
  for (let index = 0; index < input.chunks; index++) {
    // Eligible: the source holds it, and we neither hold it, nor are writing it, nor asked this source for it.
    if (!input.sourceHas.has(index) || input.have.has(index)) continue;
    if (input.askedOfSource.has(index) || (input.writing !== undefined && input.writing.has(index))) continue;
    // Someone else was asked for it already: leave it to them.
    if (input.requesters(index) > 0) continue;
    const availability = input.availability(index);
    if (availability < bestAvailability) {
      best = index;
      bestAvailability = availability;
    }
  }
  return best;
}

module.exports = { pick };
