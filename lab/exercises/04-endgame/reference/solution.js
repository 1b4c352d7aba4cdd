// Reference: rarest first; when nothing is left that nobody was asked for, and only then (the endgame),
// the eligible chunk with the fewest requesters, so an idle fast source races the slow one.
function eligible(input, index) {
  if (!input.sourceHas.has(index) || input.have.has(index)) return false;
  if (input.askedOfSource.has(index)) return false;
  return input.writing === undefined || !input.writing.has(index);
}

function pick(input) {
  let best;
  let bestAvailability = Infinity;
  for (let index = 0; index < input.chunks; index++) {
    if (!eligible(input, index) || input.requesters(index) > 0) continue;
    const availability = input.availability(index);
    if (availability < bestAvailability) {
      best = index;
      bestAvailability = availability;
    }
  }
  if (best !== undefined) return best;
  if (input.endgame !== undefined && !input.endgame()) return undefined;
  let fewest;
  for (let index = 0; index < input.chunks; index++) {
    if (!eligible(input, index)) continue;
    const requesters = input.requesters(index);
    if (requesters >= input.maxRequesters) continue;
    if (fewest === undefined || requesters < input.requesters(fewest)) fewest = index;
  }
  return fewest;
}

module.exports = { pick };
