// Your piece picker: called once per request the downloader is about to send to one source.
// Return the index of the chunk to ask this source for, or undefined to ask it for nothing now.
// The input is described in docs/strategies.md ("The pick function").
function pick(input) {
  for (let index = 0; index < input.chunks; index++) {
    if (!input.sourceHas.has(index) || input.have.has(index)) continue;
    if (input.askedOfSource.has(index) || (input.writing !== undefined && input.writing.has(index))) continue;
    if (input.requesters(index) > 0) continue;
    return index; // the lowest missing index: in file order
  }
  return undefined;
}

module.exports = { pick };
