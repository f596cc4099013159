// `npm run bench`: runs each bench script in its own process, one after another, so no bench's
// servers, timers or CPU load leak into the next one's figures. Each writes bench/results/<name>.json.
//
//   npm run bench                   every bench below
//   npm run bench -- poller         only those whose file name contains "poller"
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** In run order; add new bench scripts (runnable alone with `npx tsx bench/<file>`) here. */
const BENCHES = ['poller-at-scale.ts', 'query-throughput.ts', 'submit-throughput.ts', 'subscription-fanout.ts', 'cold-start.ts'];

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const selected = BENCHES.filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)));

function run(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(benchDir, file)], { stdio: 'inherit' });
    // Ctrl-C reaches the child too (same process group); it cleans up its own servers and children.
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  if (selected.length === 0) throw new Error(`no bench matches ${filters.join(', ')}; known: ${BENCHES.join(', ')}`);
  const outcomes: { file: string; code: number; seconds: number }[] = [];
  for (const file of selected) {
    console.log(`\n=== ${file}`);
    const started = Date.now();
    const code = await run(file);
    outcomes.push({ file, code, seconds: (Date.now() - started) / 1000 });
  }
  console.log('\n=== summary');
  for (const { file, code, seconds } of outcomes) console.log(`  ${code === 0 ? 'ok    ' : 'FAILED'}  ${file}  ${seconds.toFixed(1)} s`);
  if (outcomes.some((o) => o.code !== 0)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
