// Baseline: rarest first, but never a chunk already asked of another source (no endgame).
function pick(input) {
  let best;
  let bestAvailability = Infinity;
  for (let index = 0; index < input.chunks; index++) {
    if (!input.sourceHas.has(index) || input.have.has(index)) continue;
    if (input.askedOfSource.has(index) || (input.writing !== undefined && input.writing.has(index))) continue;
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
