// `npm start` (and `npm run simulator`, `npm run keys`): runs one of the bundles `npm run build` writes
// to dist/, in this same process. When the bundle is missing or older than src/ it is built first
// (a fraction of a second), if esbuild is installed; in a production install without dev dependencies
// it says what to do instead. A current bundle is run without importing esbuild or tsx at all.
//
//   node scripts/start.mjs [main|simulator|keys] [arguments for the entry point...]
import console from 'node:console';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { bundlePath, bundleState, buildBundle, ENTRIES, EsbuildMissingError, ROOT } from './build.mjs';

let name = 'main';
if (process.argv[2] !== undefined && Object.hasOwn(ENTRIES, process.argv[2])) {
  name = process.argv[2];
  // The entry point reads its own arguments from process.argv.slice(2), as if started directly.
  process.argv.splice(2, 1);
}

const state = bundleState(ROOT);
if (state !== 'fresh') {
  try {
    await buildBundle(ROOT);
  } catch (error) {
    if (error instanceof EsbuildMissingError) {
      const what = state === 'missing' ? 'dist/ has no built bundle' : 'dist/ was built from other sources than src/';
      console.error(
        `Cannot start: ${what}, and ${error.message}.\n` +
          'Run "npm run build" where the dev dependencies are installed (npm ci), then install for production (npm ci --omit=dev) and start again.',
      );
    } else if (!(error instanceof Error && 'errors' in error)) {
      // esbuild has already printed its own build errors.
      console.error(error);
    }
    process.exit(1);
  }
}

// Stack traces then point into src/, not the bundle.
process.setSourceMapsEnabled(true);
await import(pathToFileURL(bundlePath(ROOT, name)).href);
