// The file behind every simulated video URL, so links work end to end in a browser.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../project-root.js';

/**
 * A 3-second 128×72 clip that really plays (a square sliding across and back, 36 frames): H.264
 * Constrained Baseline, yuv420p, `moov` before `mdat` (faststart), 1,773 bytes. Committed, and
 * read from disk rather than bundled, found from the project root so that src/ (tsx) and the
 * dist/ bundle agree; scripts/make-sample-clip.sh holds the ffmpeg command that made it.
 */
export const SAMPLE_CLIP_PATH = join(PROJECT_ROOT, 'src', 'kling', 'simulator', 'assets', 'sample-clip.mp4');

let sampleClipBytes: Buffer | undefined;

/**
 * The clip's bytes, read on first use and kept: a gateway that talks to the real Kling never
 * needs the file, so a missing one only matters once the simulator serves a video.
 */
export function sampleClip(): Buffer {
  sampleClipBytes ??= readFileSync(SAMPLE_CLIP_PATH);
  return sampleClipBytes;
}

/** Parses a single `bytes=a-b` range; undefined means "send it all", null means unsatisfiable. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | null {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, from = '', to = ''] = match;
  if (from === '' && to === '') return null;
  let start: number;
  let end: number;
  if (from === '') {
    start = Math.max(0, size - Number(to));
    end = size - 1;
  } else {
    start = Number(from);
    end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  }
  return start > end || start >= size ? null : { start, end };
}

/**
 * Serves the clip with byte-range support: Safari refuses to play a `<video>` whose server
 * ignores `Range`, and other browsers seek with it.
 */
export function servePlaceholderVideo(req: IncomingMessage, res: ServerResponse): void {
  let clip: Buffer;
  try {
    clip = sampleClip();
  } catch (error) {
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`the simulator's sample clip cannot be read: ${error instanceof Error ? error.message : String(error)}\n`);
    return;
  }
  const size = clip.length;
  const range = parseRange(req.headers.range, size);
  res.setHeader('Content-Type', 'video/mp4');
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', 'public, max-age=86400');
  if (range === null) {
    res.writeHead(416, { 'Content-Range': `bytes */${size}` });
    res.end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  const headers: Record<string, string | number> = { 'Content-Length': end - start + 1 };
  if (range !== undefined) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(range === undefined ? 200 : 206, headers);
  res.end(req.method === 'HEAD' ? undefined : clip.subarray(start, end + 1));
}
