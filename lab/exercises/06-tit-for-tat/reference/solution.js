// Reference: tit-for-tat. While this peer downloads, serve the `slots` requesters that sent it the most
// in the last round, plus one optimistic unchoke drawn among the others and kept for a few rounds, so a
// newcomer can prove itself. A requester that was sent a few chunks and never gave a byte back is a free
// rider: it gets no optimistic unchoke. Slots nobody has earned yet (the first rounds, before anyone has
// given) go to the others that are not free riders, so that trading starts at once. A peer that
// downloads nothing has nobody to reward and serves everyone but the free riders.
const SNUB_AFTER_BYTES = 64 * 1024;
const OPTIMISTIC_ROUNDS = 3;

let optimistic;
let drawnRound = -Infinity;

function isFreeRider(candidate) {
  return candidate.receivedBytes === 0 && candidate.sentBytes >= SNUB_AFTER_BYTES;
}

function choose(input) {
  // Done downloading: serve everyone but the known free riders, until this peer leaves.
  if (!input.downloading) return input.candidates.filter((c) => !isFreeRider(c)).map((c) => c.peer);
  const givers = input.candidates
    .filter((candidate) => candidate.receivedRecentBytes > 0)
    .sort((a, b) => b.receivedRecentBytes - a.receivedRecentBytes || b.receivedBytes - a.receivedBytes)
    .slice(0, input.slots)
    .map((candidate) => candidate.peer);
  const others = input.candidates
    .filter((candidate) => !givers.includes(candidate.peer))
    .filter((candidate) => !isFreeRider(candidate))
    .map((candidate) => candidate.peer);
  if (optimistic === undefined || !others.includes(optimistic) || input.round - drawnRound >= OPTIMISTIC_ROUNDS) {
    optimistic = others[Math.floor(Math.random() * others.length)];
    drawnRound = input.round;
  }
  const serve = optimistic === undefined ? givers : [...givers, optimistic];
  for (const peer of others) {
    if (serve.length > input.slots) break;
    if (!serve.includes(peer)) serve.push(peer);
  }
  return serve;
}

module.exports = { choose };
