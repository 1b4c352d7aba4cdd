// Bundles the CLI (tracker, peer, ctl, demo, bench) and the lab controller with esbuild.
// The CLI bundle is self-contained so the images need nothing but `node`; the lab bundle keeps
// dockerode external because its ssh2 dependency carries optional native code.
// The dashboard's browser script (lab/observe/client/) is bundled first: the lab bundle carries its text
// (the page inlines it), and dist/dashboard-client.js serves the page when the lab runs from source.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';

import { build } from 'esbuild';

const DASHBOARD_CLIENT_OUT = 'dist/dashboard-client.js';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  legalComments: 'none',
};

const client = await build({
  entryPoints: ['lab/observe/client/main.ts'],
  bundle: true,
  platform: 'browser',
  target: 'es2020',
  format: 'iife',
  logLevel: 'warning',
  legalComments: 'none',
  write: false,
});
const clientJs = client.outputFiles[0].text;
await mkdir('dist', { recursive: true });
await writeFile(DASHBOARD_CLIENT_OUT, clientJs);
// The bench's libtorrent nodes run this script with the system Python; the CLI bundle finds it beside itself.
await copyFile('src/bench/libtorrent-node.py', 'dist/libtorrent-node.py');

await Promise.all([
  build({
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/swarmlab.js',
    banner: { js: '#!/usr/bin/env node' },
  }),
  build({
    ...common,
    entryPoints: ['lab/main.ts'],
    outfile: 'dist/lab.js',
    banner: { js: '#!/usr/bin/env node' },
    external: ['dockerode', 'testcontainers', 'yaml'],
    define: { DASHBOARD_CLIENT_JS: JSON.stringify(clientJs) },
  }),
]);
