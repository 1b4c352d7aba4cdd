/* global module */
/**
 * An uploader policy (docs/strategies.md): `swarmlab peer --uploader docs/examples/uploader-give-back.js`.
 *
 * Serves the two requesters that gave this peer the most in total, plus every requester it has sent
 * less than 1 MiB so far (newcomers get a start). It runs isolated: no require, no process, no
 * network; only its input and the language. tests/unit/upload-policy.test.ts runs this very file.
 */
function choose(input) {
  if (!input.downloading) return input.candidates.map((candidate) => candidate.peer);
  const givers = input.candidates
    .filter((candidate) => candidate.receivedBytes > 0)
    .sort((a, b) => b.receivedBytes - a.receivedBytes)
    .slice(0, 2)
    .map((candidate) => candidate.peer);
  const newcomers = input.candidates
    .filter((candidate) => candidate.sentBytes < 1024 * 1024 && !givers.includes(candidate.peer))
    .map((candidate) => candidate.peer);
  return [...givers, ...newcomers];
}

module.exports = { choose };
