/** The CLI's only way to print: results to stdout, diagnostics to stderr. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}
