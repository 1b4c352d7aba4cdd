/**
 * docs/architecture.md names files and folders as backticked repo-relative paths (`src/peer/peer-node.ts`,
 * `lab/scenarios/`). Every one of them must exist, so the page cannot drift from the code: a file moved
 * or renamed without updating the page fails here.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO_ROOT = resolve(__dirname, '..', '..');
const CHECKED_DOCS = ['docs/architecture.md'];
/** A code span naming a file by one of these extensions is a path, with or without a folder. */
const FILE_EXTENSIONS = ['ts', 'mjs', 'js', 'json', 'md', 'yaml', 'yml'];
const PATH_SHAPE = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*\/?$/;
const FILE_SHAPE = new RegExp(`\\.(?:${FILE_EXTENSIONS.join('|')})$`);

/**
 * The paths a markdown text names: inline code spans outside fenced blocks whose whole text has the
 * shape of a relative path with a slash (`src/peer/peer-node.ts`, `lab/scenarios/`, `src/peer`), or is
 * a file name with a known extension (`eslint.config.mjs`). A file written without its folder
 * (`peer-node.ts`) is taken as a path from the repository root, so it fails unless it really lives
 * there: every path is written in full. (So a code span like `a/b` that is not a path has no place in
 * a checked page: write it without backticks.)
 */
function namedPaths(markdown: string): string[] {
  const prose = markdown.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, '');
  const paths = new Set<string>();
  for (const match of prose.matchAll(/`([^`\s]+)`/g)) {
    const text = match[1]!;
    if (!PATH_SHAPE.test(text)) continue;
    if (text.includes('/') || FILE_SHAPE.test(text)) paths.add(text);
  }
  return [...paths];
}

describe('namedPaths', () => {
  it('takes files and folders, and leaves other code spans alone', () => {
    const text = [
      'The root is `src/peer/peer-node.ts`; scenarios live in `lab/scenarios/`; lint in `eslint.config.mjs`.',
      'Not paths: `PeerNode.download()`, `swarmlab.run=RUN`, `swarmlab.run`, `npm run lab -- up`, `/run/x.sock`.',
    ].join('\n');
    expect(namedPaths(text).sort()).toEqual(['eslint.config.mjs', 'lab/scenarios/', 'src/peer/peer-node.ts']);
  });

  it('takes a file named without its folder, a misspelled folder, and a folder without its slash', () => {
    expect(namedPaths('see `peer-node.ts`, `lbb/scenarios/` and `src/peer`').sort()).toEqual([
      'lbb/scenarios/',
      'peer-node.ts',
      'src/peer',
    ]);
  });

  it('skips fenced blocks', () => {
    const text = ['```', 'a `src/gone.ts` in a diagram', '```', 'and `docs/protocol.md` in prose'].join('\n');
    expect(namedPaths(text)).toEqual(['docs/protocol.md']);
  });
});

describe.each(CHECKED_DOCS)('%s', (doc) => {
  const paths = namedPaths(readFileSync(join(REPO_ROOT, doc), 'utf8'));

  it('names the code it describes', () => {
    // A page whose paths stopped being recognised would otherwise pass with nothing checked.
    expect(paths.length).toBeGreaterThanOrEqual(20);
  });

  it('names only paths that exist in the repository', () => {
    const missing = paths.filter((path) => !existsSync(join(REPO_ROOT, path)));
    expect(missing).toEqual([]);
  });

  it('writes a folder with a trailing slash and a file without one', () => {
    const wrongShape = paths.filter((path) => {
      const full = join(REPO_ROOT, path);
      return existsSync(full) && statSync(full).isDirectory() !== path.endsWith('/');
    });
    expect(wrongShape).toEqual([]);
  });
});
