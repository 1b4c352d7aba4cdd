// Your uploader policy: called once a round (every second) by each contributor with the peers that asked
// it for chunks lately and what passed between them. Return the ids (`candidate.peer`) of those to serve
// this round; everyone else is choked (their requests are refused until a later round serves them).
// The input is described in docs/strategies.md ("Whom to upload to: the uploader policy").
//
// This starter serves everyone who asks, which is what a peer does without a policy: free riders, who
// upload nothing, do as well as anyone.
function choose(input) {
  return input.candidates.map((candidate) => candidate.peer);
}

module.exports = { choose };
