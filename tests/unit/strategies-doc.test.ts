/**
 * docs/strategies.md cannot drift from the code: it quotes the shipped example picker verbatim, its
 * worked example gives the answer it claims, its settings table names the variables the peer reads and
 * the scenario keys the lab maps to them, and every path it names exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { PEER_SETTING_ENV } from '../../lab/scenario/peer-defaults';
import type { PickInput } from '../../src/peer/piece-picker';
import { Bitfield } from '../../src/protocol';

const ROOT = path.resolve(__dirname, '..', '..');
const DOC = readFileSync(path.join(ROOT, 'docs/strategies.md'), 'utf8');
const EXAMPLE = 'docs/examples/picker-lowest-availability.js';

describe('docs/strategies.md', () => {
  it('quotes the example picker exactly as shipped', () => {
    const source = readFileSync(path.join(ROOT, EXAMPLE), 'utf8');
    const quoted = source.slice(source.indexOf('function pick(input) {'));
    expect(quoted.length).toBeGreaterThan(200);
    expect(DOC).toContain(quoted.trimEnd());
  });

  it('the worked example answers 3, as the walk-through says', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { pick } = require(path.join(ROOT, EXAMPLE)) as { pick: (input: PickInput) => number | undefined };
    const chunks = 6;
    const have = new Bitfield(chunks);
    have.set(0);
    const sourceHas = new Bitfield(chunks);
    for (let i = 0; i < chunks; i++) sourceHas.set(i);
    const availability = [3, 3, 2, 1, 1, 4];
    const input: PickInput = {
      chunks,
      have,
      sourceHas,
      askedOfSource: new Set<number>(),
      requesters: (i) => (i === 1 ? 1 : 0),
      availability: (i) => availability[i]!,
      maxRequesters: 2,
    };
    expect(pick(input)).toBe(3);
  });

  it('names each setting with the variable the peer reads and the scenario key that sets it', () => {
    const peerConfig = readFileSync(path.join(ROOT, 'src/cli/peer-config.ts'), 'utf8');
    for (const [key, variable] of Object.entries(PEER_SETTING_ENV)) {
      expect(peerConfig).toContain(`'${variable}'`);
      expect(DOC).toMatch(new RegExp(`\\| \`${variable}\` \\| \`${key}\` \\|`));
    }
  });

  it('names only paths that exist', () => {
    const prose = DOC.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, '');
    const named = [...prose.matchAll(/`((?:src|lab|docs|tests)\/[A-Za-z0-9_./-]+)`/g)].map((match) => match[1]!);
    expect(named.length).toBeGreaterThan(5);
    for (const file of named) expect([file, existsSync(path.join(ROOT, file))]).toEqual([file, true]);
  });
});
