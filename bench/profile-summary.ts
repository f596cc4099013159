// Reads a V8 .cpuprofile (node --cpu-prof) and prints where the busy time went: the top functions by
// self time, then the same time grouped by where the code lives (our src/, each package, node itself).
//
//   npx tsx bench/profile-summary.ts bench/results/profiles/gateway-query-throughput.cpuprofile [top=15]
import { readFileSync } from 'node:fs';
import { printTable } from './lib/report.js';
import { repoRoot } from './lib/child-processes.js';

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based. */
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds between consecutive samples; the first is relative to startTime. */
  timeDeltas: number[];
}

/** V8's pseudo-frames: time not spent in any JavaScript function. */
const IDLE = '(idle)';

function location(url: string, lineNumber: number): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '').replace(repoRoot, '');
  return `${path}:${lineNumber + 1}`;
}

/** Our code, a package (scoped or not), node's own modules, or V8's pseudo-frames. */
function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node: internals';
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inPackage?.[1]) return inPackage[1];
  const path = url.replace(/^file:\/\//, '').replace(repoRoot, '');
  if (path.startsWith('src/')) return `src/${path.split('/')[1] ?? ''}`;
  return path;
}

function main() {
  const [file, topArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top=15]');
  const top = Number(topArg ?? 15);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));

  // A sample's time is the gap until the next sample (DevTools does the same).
  const selfMicros = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] ?? 0;
    const micros = profile.timeDeltas[i + 1] ?? 0;
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + micros);
  }

  const byFunction = new Map<string, { name: string; where: string; area: string; micros: number }>();
  const byArea = new Map<string, number>();
  let totalMicros = 0;
  let idleMicros = 0;
  for (const [id, micros] of selfMicros) {
    const frame = frames.get(id);
    if (!frame) continue;
    totalMicros += micros;
    if (frame.functionName === IDLE) {
      idleMicros += micros;
      continue;
    }
    const name = frame.functionName || '(anonymous)';
    const where = location(frame.url, frame.lineNumber);
    const key = `${name} ${where}`;
    const entry = byFunction.get(key) ?? { name, where, area: area(frame), micros: 0 };
    entry.micros += micros;
    byFunction.set(key, entry);
    byArea.set(entry.area, (byArea.get(entry.area) ?? 0) + micros);
  }
  const busyMicros = totalMicros - idleMicros;
  const ms = (micros: number) => (micros / 1000).toFixed(0);
  const share = (micros: number) => `${((micros / busyMicros) * 100).toFixed(1)} %`;

  console.log(file);
  console.log(
    `  ${(totalMicros / 1e6).toFixed(1)} s profiled, ${(busyMicros / 1e6).toFixed(1)} s busy ` +
      `(${((busyMicros / totalMicros) * 100).toFixed(0)} %), ${profile.samples.length} samples; shares below are of busy time`,
  );

  const functions = [...byFunction.values()].sort((a, b) => b.micros - a.micros).slice(0, top);
  printTable(`top ${top} functions by self time`, [
    ['function', 'self ms', 'share', 'area', 'where'],
    ...functions.map((f) => [f.name.slice(0, 48), ms(f.micros), share(f.micros), f.area, f.where.slice(-70)]),
  ], [3, 4]);

  const areas = [...byArea.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  printTable('self time by area', [['area', 'self ms', 'share'], ...areas.map(([name, micros]) => [name, ms(micros), share(micros)])]);
}

main();
