// The file behind every simulated video URL, so links work end to end in a browser.
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A one-second 64×36 dark-blue clip: H.264 Constrained Baseline, yuv420p, `moov` before `mdat`
 * (faststart) so a `<video>` can start before the end arrives. Made once with ffmpeg
 * (`-f lavfi -i color=c=0x1e2a3a:s=64x36:r=1:d=1 -c:v libx264 -profile:v baseline -movflags +faststart`,
 * SEI stripped); 827 bytes.
 */
const PLACEHOLDER_MP4_BASE64 =
  'AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDEAAALrbW9vdgAAAGxtdmhkAAAAAAAAAAAAAAAAAAAD6AAAA+gAAQAAAQAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAjp0cmFrAAAAXHRraGQAAAADAAAAAAAAAAAAAAABAAAAAAAAA+gAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAABAAAAAAEAAAAAkAAAAAAAkZWR0cwAAABxlbHN0AAAAAAAAAAEAAAPoAAAAAAABAAAAAAGybWRpYQAAACBtZGhkAAAAAAAAAAAAAAAAAABAAAAAQABVxAAAAAAALWhkbHIAAAAAAAAAAHZpZGUAAAAAAAAAAAAAAABWaWRlb0hhbmRsZXIAAAABXW1pbmYAAAAUdm1oZAAAAAEAAAAAAAAAAAAAACRkaW5mAAAAHGRyZWYAAAAAAAAAAQAAAAx1cmwgAAAAAQAAAR1zdGJsAAAAuXN0c2QAAAAAAAAAAQAAAKlhdmMxAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAEAAJABIAAAASAAAAAAAAAABDExhdmMgbGlieDI2NAAAAAAAAAAAAAAAAAAAAAAAAAAAGP//AAAAL2F2Y0MBQsAe/+EAF2dCwB7cR/nwEQAAAwABAAADAAIPFi+AAQAFaM4ESyAAAAAQcGFzcAAAAAEAAAABAAAAFGJ0cnQAAAAAAAABAAAAAQAAAAAYc3R0cwAAAAAAAAABAAAAAQAAQAAAAAAcc3RzYwAAAAAAAAABAAAAAQAAAAEAAAABAAAAFHN0c3oAAAAAAAAAIAAAAAEAAAAUc3RjbwAAAAAAAAABAAADGwAAAD11ZHRhAAAANW1ldGEAAAAAAAAAIWhkbHIAAAAAAAAAAG1kaXJhcHBsAAAAAAAAAAAAAAAACGlsc3QAAAAIZnJlZQAAAChtZGF0AAAAHGWIhAS8RigACdzHAAECKOAAIBt999dddddddeA=';

export const PLACEHOLDER_MP4: Buffer = Buffer.from(PLACEHOLDER_MP4_BASE64, 'base64');

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
  const size = PLACEHOLDER_MP4.length;
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
  res.end(req.method === 'HEAD' ? undefined : PLACEHOLDER_MP4.subarray(start, end + 1));
}
