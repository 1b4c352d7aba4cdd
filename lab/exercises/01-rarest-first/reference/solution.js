// Reference: rarest first. Among the chunks this source can give, the one the fewest known sources hold;
// ties go to a random one, so that two downloaders asking the same seeder pick different chunks.
function pick(input) {
  let best = [];
  let bestAvailability = Infinity;
  for (let index = 0; index < input.chunks; index++) {
    if (!input.sourceHas.has(index) || input.have.has(index)) continue;
    if (input.askedOfSource.has(index) || (input.writing !== undefined && input.writing.has(index))) continue;
    if (input.requesters(index) > 0) continue;
    const availability = input.availability(index);
    if (availability < bestAvailability) {
      best = [index];
      bestAvailability = availability;
    } else if (availability === bestAvailability) best.push(index);
  }
  if (best.length === 0) return undefined;
  const random = input.random ?? Math.random;
  return best[Math.floor(random() * best.length)];
}

module.exports = { pick };
