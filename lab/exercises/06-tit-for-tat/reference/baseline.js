// Baseline: serve everyone who asks (the peer's behaviour without a policy), so the free riders do as
// well as the contributors.
function choose(input) {
  return input.candidates.map((candidate) => candidate.peer);
}

module.exports = { choose };
