// An uploader policy (`--uploader PATH`, docs/strategies.md): serve the two requesters that gave this
// peer the most in total, plus every requester we have given less than 1 MiB so far (newcomers).
// It runs isolated: no require, no process, no network; only the input and the language.
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
