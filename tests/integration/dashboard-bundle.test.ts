/**
 * The dashboard's script as `npm run build` ships it: bundled for the browser on its own, and carried
 * inside dist/lab.js, which runs from dist/ where the source layout's path to the script does not exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIST = join(__dirname, '..', '..', 'dist');

function built(name: string): string {
  const path = join(DIST, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build (npm test does)`);
  return readFileSync(path, 'utf8');
}

describe('dashboard bundle', () => {
  it('is a browser script that needs nothing from Node', () => {
    const client = built('dashboard-client.js');
    expect(client).toContain('new EventSource(');
    expect(client).not.toMatch(/\brequire\(|process\.|__dirname/);
  });

  it('is inlined in dist/lab.js at build time, so the bundled lab never reads it from disk', () => {
    const lab = built('lab.js');
    expect(lab).not.toContain('typeof DASHBOARD_CLIENT_JS');
    expect(lab).toContain('new EventSource(');
  });
});
