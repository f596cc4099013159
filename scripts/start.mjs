// `npm start`: bundles src/ with esbuild (a fraction of a second) and runs the bundle in this same
// process. Starting from a bundle avoids compiling every module at start, which is most of tsx's
// start-up time; dependencies stay external and load from node_modules as usual.
import process from 'node:process';
import { URL } from 'node:url';
import { build } from 'esbuild';

const outfile = new URL('../dist/gateway/main.js', import.meta.url);

await build({
  entryPoints: [new URL('../src/main.ts', import.meta.url).pathname],
  outfile: outfile.pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'warning',
});
// Stack traces then point into src/, not the bundle.
process.setSourceMapsEnabled(true);
await import(outfile.href);
