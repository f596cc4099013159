// `npm run build`: bundles the three entry points (gateway, Kling simulator, keys CLI) from src/ into
// dist/ with esbuild, so that a production install runs plain JavaScript and needs neither esbuild nor
// tsx (both are dev dependencies). Dependencies stay external and load from node_modules as usual;
// drizzle/ migrations are read from disk at run time (src/project-root.ts), so they are not bundled.
//
// dist/build-stamp.json records a hash of everything the bundle is built from (every file under src/,
// tsconfig.json and this script). scripts/start.mjs compares it with the tree to decide whether the
// bundle is current; contents, not modification times, so a checkout, a copy or a restored file cannot
// fool it.
import console from 'node:console';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL, URL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = 'dist';
const STAMP = join(DIST, 'build-stamp.json');

/** Name (for `node scripts/start.mjs NAME`) → source entry point; each becomes dist/NAME.js. */
export const ENTRIES = {
  main: 'src/main.ts',
  simulator: 'src/kling/simulator/main.ts',
  keys: 'src/cli/keys.ts',
};

/** The bundle of one entry, as a path under `root`. */
export const bundlePath = (root, name) => join(root, DIST, `${name}.js`);

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return entry.isFile() ? [path] : [];
  });
}

/** Hash of the bundle's inputs, or null when the tree has no src/ (an install that ships dist/ only). */
export function sourceHash(root = ROOT) {
  const srcDir = join(root, 'src');
  if (!existsSync(srcDir)) return null;
  const files = [...filesUnder(srcDir), join(root, 'tsconfig.json'), fileURLToPath(import.meta.url)]
    .filter((file) => existsSync(file))
    .map((file) => relative(root, file).split('\\').join('/'))
    .sort();
  const hash = createHash('sha256');
  for (const file of files) {
    const content = readFileSync(join(root, file));
    hash.update(`${file}\0${content.length}\0`).update(content);
  }
  return hash.digest('hex');
}

/**
 * 'fresh' (every bundle present and built from the current sources, or no sources to compare with),
 * 'stale' (built from other sources) or 'missing' (no bundle, or no stamp saying what it was built from).
 */
export function bundleState(root = ROOT) {
  if (!Object.keys(ENTRIES).every((name) => existsSync(bundlePath(root, name)))) return 'missing';
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, STAMP), 'utf8'));
  } catch {
    return 'missing';
  }
  const current = sourceHash(root);
  return current === null || current === stamp.sourceHash ? 'fresh' : 'stale';
}

/** Thrown by buildBundle when esbuild cannot be imported (a production install, `--omit=dev`). */
export class EsbuildMissingError extends Error {}

/** Bundles every entry into dist/ and writes the stamp. Each file is replaced atomically (write, then rename). */
export async function buildBundle(root = ROOT) {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch (error) {
    throw new EsbuildMissingError(`esbuild is not installed (${error instanceof Error ? error.message : String(error)})`);
  }
  // Hashed before bundling: a source edited during the build leaves the stamp behind, so the next start rebuilds.
  const hash = sourceHash(root);
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, source]) => [name, join(root, source)])),
    outdir: join(root, DIST),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // Linked maps without sources: stack traces (scripts/start.mjs turns source maps on) point into src/.
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
    write: false,
  });
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
  const stamp = join(root, STAMP);
  writeFileSync(`${stamp}.${process.pid}.tmp`, `${JSON.stringify({ sourceHash: hash, builtAt: new Date().toISOString() }, null, 2)}\n`);
  renameSync(`${stamp}.${process.pid}.tmp`, stamp);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  try {
    await buildBundle();
  } catch (error) {
    // esbuild has already printed its own errors (logLevel 'warning'); anything else is said here.
    if (error instanceof EsbuildMissingError) console.error(`npm run build needs the dev dependencies (npm ci): ${error.message}`);
    else if (!(error instanceof Error && 'errors' in error)) console.error(error);
    process.exitCode = 1;
  }
}
