// Kling's response envelope (kling-api.md sections 5 and 12.3): `{code, message, request_id, data}`,
// `data` left out on errors, the HTTP status taken from the code table.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KLING_CODES } from '../errors.js';

/** Bigger bodies are not a create request; Kling's own limit is unpublished. */
const MAX_BODY_BYTES = 1_000_000;

export function sendSuccess(res: ServerResponse, data: unknown): void {
  writeJson(res, 200, { code: 0, message: 'SUCCEED', request_id: randomUUID(), data });
}

/** Answers with Kling's code; `message` defaults to the code table's text. */
export function sendError(res: ServerResponse, code: number, message?: string): void {
  const info = KLING_CODES[code];
  writeJson(res, info?.httpStatus ?? 500, { code, message: message ?? info?.message ?? 'error', request_id: randomUUID() });
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export type BodyResult = { ok: true; value: unknown } | { ok: false; message: string };

export async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Drains an oversized body instead of stopping early: leaving the loop would destroy the socket
  // before the 1200 answer could be written.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) return { ok: false, message: `request body is larger than ${MAX_BODY_BYTES} bytes` };
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { ok: false, message: 'request body is required' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: 'request body is not valid JSON' };
  }
}
