// node:http with /healthz, /readyz, yoga on /graphql (HTTP, SSE, GraphiQL) and graphql-ws beside it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { KlingCallbackHandler } from '../tasks/kling-callback.js';
import type { CallerResolver } from './caller.js';
import { attachGraphqlWs, type WsLimits } from './ws.js';
import type { GatewayYoga } from './yoga.js';

export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency answers; rejects (or times out) when it does not. */
  check(): Promise<void>;
}

export interface GatewayHttpOptions {
  yoga: GatewayYoga;
  resolveCaller: CallerResolver;
  host: string;
  port: number;
  readiness: ReadinessCheck[];
  /** Larger request bodies are refused with 413 before any parsing. */
  maxBodyBytes: number;
  ws: WsLimits;
  /** Receives Kling's callbacks on `POST /kling/callback/<taskId>/<token>`. */
  onKlingCallback?: KlingCallbackHandler | undefined;
  /** @default 2_000 */
  readinessTimeoutMs?: number;
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** Kling's task objects are small; anything bigger is not a callback. */
const CALLBACK_MAX_BYTES = 256 * 1024;

async function receiveKlingCallback(
  req: IncomingMessage,
  res: ServerResponse,
  handler: KlingCallbackHandler,
  taskId: string,
  token: string,
) {
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > CALLBACK_MAX_BYTES) {
        sendJson(res, 413, { error: 'payload too large' });
        return;
      }
      chunks.push(chunk);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      sendJson(res, 400, { error: 'invalid JSON' });
      return;
    }
    const outcome = await handler(taskId, token, body);
    const status = outcome === 'unknown-task' ? 404 : outcome === 'bad-body' ? 400 : 200;
    sendJson(res, status, { outcome });
  } catch {
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
  }
}

/**
 * yoga sets no body limit, so it is enforced here from Content-Length; a body of unknown length
 * (chunked) is refused rather than read without a bound.
 */
function bodyWithinLimit(req: IncomingMessage, res: ServerResponse, maxBytes: number): boolean {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return true;
  const length = req.headers['content-length'];
  const unbounded = length === undefined && req.headers['transfer-encoding'] !== undefined;
  if (!unbounded && (length === undefined || Number(length) <= maxBytes)) return true;
  // Do not read the rest of an oversized body; close the connection once the answer is out.
  res.setHeader('connection', 'close');
  req.resume();
  if (unbounded) sendJson(res, 411, { errors: [{ message: 'A Content-Length header is required.' }] });
  else sendJson(res, 413, { errors: [{ message: `The request body is larger than ${maxBytes} bytes.` }] });
  return false;
}

export function createGatewayHttpServer(options: GatewayHttpOptions) {
  const { yoga, readiness, readinessTimeoutMs = 2_000 } = options;

  const ready = async () => {
    const results = await Promise.all(
      readiness.map(async ({ name, ...dependency }) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            dependency.check(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('timed out')), readinessTimeoutMs);
            }),
          ]);
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, error instanceof Error ? error.message : 'failed'] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ok: results.every(([, state]) => state === 'ok'), checks: Object.fromEntries(results) };
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz' && (req.method === 'GET' || req.method === 'HEAD')) {
      void ready().then(({ ok, checks }) => sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks }));
      return;
    }
    if (!bodyWithinLimit(req, res, options.maxBodyBytes)) return;
    const callback = /^\/kling\/callback\/([\w-]+)\/([\w-]+)$/.exec(path ?? '');
    if (callback && options.onKlingCallback) {
      if (req.method !== 'POST') {
        sendJson(res, 405, { error: 'method not allowed' });
        return;
      }
      void receiveKlingCallback(req, res, options.onKlingCallback, callback[1] ?? '', callback[2] ?? '');
      return;
    }
    // The adapter writes the response itself, streaming SSE, and passes { req, res } as server context.
    void yoga(req, res);
  };

  const server = createServer(handle);
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const ws = attachGraphqlWs({ server, yoga, resolveCaller: options.resolveCaller, limits: options.ws });
  let url: URL | undefined;

  return {
    server,
    async listen(): Promise<URL> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      url = new URL(`http://${host}:${port}/graphql`);
      return url;
    },
    get url() {
      return url;
    },
    async close() {
      if (!server.listening) return;
      await ws.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive and SSE connections would hold close() open indefinitely.
      server.closeIdleConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

export type GatewayHttpServer = ReturnType<typeof createGatewayHttpServer>;
