// Baseline: chunks in file order (what a streaming player does).
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
