// Bundles the CLI (tracker, peer, ctl, demo, bench) and the lab controller with esbuild.
// The CLI bundle is self-contained so the images need nothing but `node`; the lab bundle keeps
// dockerode external because its ssh2 dependency carries optional native code.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  legalComments: 'none',
};

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
  }),
]);
